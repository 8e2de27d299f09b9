import { describe, expect, it } from 'vitest';
import { parseMergeConfig } from '../../../src/train/merge/config.js';
import { assembleMerge } from '../../../src/train/merge/assemble.js';
import { permutedEmbeddings } from '../../../src/train/merge/embed.js';
import { mergeMethod } from '../../../src/train/merge/registry.js';
import { planVocabulary, readVocab } from '../../../src/train/merge/vocab.js';
import { CODER } from './mergekit-fixtures.js';

/** A BPE tokenizer.json with the given vocabulary (no merges) and added tokens. */
function tokenizer(vocab: string[], added: [number, string, boolean][] = []): string {
  return JSON.stringify({
    model: { type: 'BPE', vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), merges: [] },
    added_tokens: added.map(([id, content, special]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special })),
  });
}

const ref = (key: string, json: string, size: number) => ({ key, label: key, spec: { json }, size });

describe('vocabulary planning (mergekit build_tokenizer)', () => {
  it('strips the base past vocab_size; union appends others’ ordinary tokens, then missing added tokens', () => {
    const base = ref('A', tokenizer(['a', 'b', 'c', 'unused'], [[1, 'b', true]]), 3);
    const b = ref('B', tokenizer(['a', 'x', 'b', 'y'], [[4, '<s1>', true]]), 5);
    const c = ref('C', tokenizer(['y', 'z', 'a'], [[3, '<s2>', false], [4, '<s1>', false]]), 5);
    const plan = planVocabulary({ configPath: 'm.yml', base, models: [base, b, c], source: 'union', addTokens: ['<new>'] });
    // base a0 b1 c2 ('unused' has id 3 ≥ vocab_size 3); B: x, y (ascending id); C: z; added: <s1> (B's settings), <s2>; then <new>
    expect(plan.entries).toEqual([['a', 0], ['b', 1], ['c', 2], ['x', 3], ['y', 4], ['z', 5], ['<s1>', 6], ['<s2>', 7], ['<new>', 8]]);
    expect(plan.rows).toBe(9);
    expect(Array.from(plan.perms.get('B') ?? [])).toEqual([0, 2, -1, 1, 3, -1, 4, -1, -1]);
    expect(Array.from(plan.perms.get('C') ?? [])).toEqual([2, -1, -1, -1, 0, 1, 4, 3, -1]);
    const doc = JSON.parse(plan.tokenizer.json) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string; special: boolean }[] };
    expect(doc.model.vocab['unused']).toBeUndefined();
    expect(doc.added_tokens.map((t) => [t.id, t.content, t.special])).toEqual([[1, 'b', true], [3, 'x', false], [4, 'y', false], [5, 'z', false], [6, '<s1>', true], [7, '<s2>', false], [8, '<new>', false]]);
    expect(readVocab(plan.tokenizer.json, 'out').added).toHaveLength(7);
  });

  it('permuted embeddings: own row, only owner, base, mean of owners, forced, zero, model_token, padding mean', () => {
    const base = ref('A', tokenizer(['t0', 'AB']), 2);
    const plan = planVocabulary({
      configPath: 'm.yml', base,
      models: [base, ref('B', tokenizer(['t0', 'onlyB', 'AB', 'BC', 'forced']), 5), ref('C', tokenizer(['t0', 'BC', 'forced', 'nobody', 'src']), 5)],
      source: 'union', addTokens: ['zero', 'copy'], padToMultipleOf: 4,
    });
    // ids: t0 0, AB 1 (the base), onlyB 2, BC 3, forced 4 (B's), nobody 5, src 6 (C's), zero 7, copy 8; rows padded to 12
    expect(plan.entries.map(([t]) => t)).toEqual(['t0', 'AB', 'onlyB', 'BC', 'forced', 'nobody', 'src', 'zero', 'copy']);
    const row = (m: number, r: number): number[] => [10 * m + r, -(10 * m + r)];
    const mat = (m: number, rows: number): Float32Array => Float32Array.from({ length: rows * 2 }, (_x, i) => row(m, Math.floor(i / 2))[i % 2] as number);
    const tensors = new Map([['A', mat(1, 2)], ['B', mat(2, 5)], ['C', mat(3, 5)]]);
    const tokens = new Map([
      ['forced', { source: { kind: 'model', model: 'C' } as const, force: true }],
      ['zero', { source: { kind: 'zero' } as const, force: false }],
      ['copy', { source: { kind: 'model_token', model: 'B', token: 'onlyB' } as const, force: false }],
    ]);
    const out = permutedEmbeddings({ plan, tensors, cols: 2, base: 'A', tokens, configPath: 'm.yml' });
    const rowsOf = (k: string): number[][] => Array.from({ length: 12 }, (_x, r) => Array.from((out.get(k) as Float32Array).subarray(2 * r, 2 * r + 2)));
    const a = rowsOf('A');
    const c = rowsOf('C');
    expect(a[0]).toEqual(row(1, 0)); // own
    expect(c[2]).toEqual(row(2, 1)); // onlyB: B's row (B id 1)
    expect(c[1]).toEqual(row(1, 1)); // AB: A and B have it, C does not, A is the base → A's row
    expect(a[3]).toEqual([(row(2, 3)[0] as number + (row(3, 1)[0] as number)) / 2, (row(2, 3)[1] as number + (row(3, 1)[1] as number)) / 2]); // BC: mean of B and C
    expect(rowsOf('B')[4]).toEqual(row(3, 2)); // forced: C's row even in B, which has the token
    expect(a[5]).toEqual(row(3, 3)); // nobody: only C
    expect(a[7]).toEqual([0, 0]); // zero
    expect(c[8]).toEqual(row(2, 1)); // copy: B's row of token onlyB
    const mean = [0, 1].map((j) => a.slice(0, 9).reduce((s, r) => s + (r[j] as number), 0) / 9);
    for (const r of [9, 10, 11]) expect(a[r]?.map((v, j) => Math.abs(v - (mean[j] as number)) < 1e-5)).toEqual([true, true]);
  });
});

describe('assembleMerge (the planner behind apr merge --config)', () => {
  it('plans slices into renumbered layers and closes its models', () => {
    const cfg = parseMergeConfig(`slices:\n  - sources: [{ model: ${CODER}, layer_range: [1, 3] }]\n  - sources: [{ model: ${CODER}, layer_range: [5, 6] }]\nmerge_method: passthrough\n`, 'plan.yml');
    const method = mergeMethod('passthrough');
    if (!method || !cfg.slices) throw new Error('setup');
    const m = assembleMerge({ configPath: 'plan.yml', method, slices: cfg.slices, parameters: {}, seed: 0 });
    expect(m.layers).toBe(3);
    expect(m.bundle.config.num_layers).toBe(3);
    expect(m.bundle.tensors.names().filter((n) => n.startsWith('model.layers.2.'))).toHaveLength(9);
    expect(m.inputs.map((x) => x.path)).toEqual([CODER]);
    m.close();
  });
});
