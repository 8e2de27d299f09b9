import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/model/rng.js';
import type { ArchConfig, ModelBundle } from '../../../src/tensor/bundle.js';
import { MemoryTensorStore } from '../../../src/tensor/store.js';
import { readFloats } from '../../../src/train/merge/floats.js';
import { calibrationSet, calibrationTexts } from '../../../src/train/prune/calibration.js';
import { applyMask, lowestScoreMask, parsePattern, satisfiesPattern } from '../../../src/train/prune/select.js';
import { ActivationStats } from '../../../src/train/prune/stats.js';
import { isPrunable, linearTarget } from '../../../src/train/prune/targets.js';
import { onlyZeroed, sparsityMet, sparsityTolerance } from '../../../src/train/prune/unstructured-types.js';
import { type TensorPruneReport, prunableNames, prunedStore } from '../../../src/train/prune/unstructured.js';
import { wandaPrune } from '../../../src/train/prune/wanda.js';

const dir = mkdtempSync(join(tmpdir(), 'apr-prune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG: ArchConfig = {
  architecture: 'llama', hidden_size: 4, num_layers: 1, num_heads: 2, num_kv_heads: 2, head_dim: 2, vocab_size: 8,
  intermediate_size: 8, rope_theta: 10000, rms_norm_eps: 1e-6, max_position_embeddings: 16, tie_word_embeddings: false, attention_bias: false,
};

function bundle(): { b: ModelBundle; w: Map<string, Float32Array> } {
  const rng = new Rng(3);
  const store = new MemoryTensorStore();
  const w = new Map<string, Float32Array>();
  const add = (name: string, shape: number[]): void => {
    const v = Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => rng.next() * 2 - 1);
    w.set(name, v);
    store.add(name, 'F32', shape, new Uint8Array(v.buffer));
  };
  add('model.embed_tokens.weight', [8, 4]);
  add('model.layers.0.mlp.up_proj.weight', [8, 4]);
  add('model.layers.0.self_attn.o_proj.weight', [4, 4]);
  add('model.layers.0.self_attn.q_proj.bias', [4]);
  add('model.layers.0.input_layernorm.weight', [4]);
  add('lm_head.weight', [8, 4]);
  return { b: { config: CONFIG, tensors: store, metadata: {}, provenance: [], source: { path: 'mem', format: 'memory' } }, w };
}

/** Per row, the ⌊r·cols⌋ smallest scores zeroed (distinct random scores: no ties). */
function rowPrune(w: Float32Array, cols: number, ratio: number, score: (i: number) => number): number[] {
  const out = Array.from(w);
  for (let r = 0; r < w.length / cols; r++) {
    const idx = Array.from({ length: cols }, (_v, c) => r * cols + c).sort((a, b) => score(a) - score(b));
    for (const i of idx.slice(0, Math.floor(ratio * cols))) out[i] = 0;
  }
  return out;
}

describe('the pruned store: which tensors, which method, what is reported', () => {
  it('magnitude: projection weights pruned per row, everything else passed through; reports count zeros and removed L1 mass', () => {
    const { b, w } = bundle();
    const reports: TensorPruneReport[] = [];
    const store = prunedStore(b, { method: 'magnitude', ratio: 0.5 }, (r) => reports.push(r));
    const up = w.get('model.layers.0.mlp.up_proj.weight')!;
    const got = readFloats(store.get('model.layers.0.mlp.up_proj.weight')!);
    expect(Array.from(got)).toEqual(rowPrune(up, 4, 0.5, (i) => Math.abs(up[i]!)));
    const removed = Array.from(up).reduce((s, x, i) => s + (got[i] === 0 ? Math.abs(x) : 0), 0) / Array.from(up).reduce((s, x) => s + Math.abs(x), 0);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ name: 'model.layers.0.mlp.up_proj.weight', shape: [8, 4], elements: 32, zeros_before: 0, zeros_after: 16, sparsity: 0.5 });
    expect(reports[0]!.l1_removed_fraction).toBeCloseTo(removed, 6); // float32 sums vs float64: 1e-6
    for (const n of ['model.embed_tokens.weight', 'lm_head.weight', 'model.layers.0.self_attn.q_proj.bias', 'model.layers.0.input_layernorm.weight']) expect(store.get(n)).toBe(b.tensors.get(n));
    expect(prunableNames(b, false)).toEqual(['model.layers.0.mlp.up_proj.weight', 'model.layers.0.self_attn.o_proj.weight']);
    expect(prunableNames(b, true)).toEqual(['model.embed_tokens.weight', 'model.layers.0.mlp.up_proj.weight', 'model.layers.0.self_attn.o_proj.weight', 'lm_head.weight']);
  });

  it('magnitude over the whole tensor (--group tensor) and the embeddings when asked; output dtype as requested', () => {
    const { b, w } = bundle();
    const store = prunedStore(b, { method: 'magnitude', ratio: 0.25, group: 'tensor', includeEmbeddings: true, dtype: 'F16' });
    const e = w.get('model.embed_tokens.weight')!;
    const ref = store.get('model.embed_tokens.weight')!;
    expect(ref.dtype).toBe('F16');
    const got = readFloats(ref);
    const order = Array.from(e.keys()).sort((a, c) => Math.abs(e[a]!) - Math.abs(e[c]!));
    const zeroed = new Set(order.slice(0, 8));
    // F16 output: kept weights within F16 rounding (relative 2⁻¹¹) of the input
    for (let i = 0; i < e.length; i++) {
      if (zeroed.has(i)) expect(got[i]).toBe(0);
      else expect(Math.abs(got[i]! - e[i]!)).toBeLessThanOrEqual(Math.abs(e[i]!) * 2 ** -11);
    }
  });

  it('Wanda scores |W_ij|·‖X_j‖ from the statistics of the projection’s input site; SparseGPT and Wanda without statistics are refused', () => {
    const { b, w } = bundle();
    const st = new ActivationStats(1, { norms: true, hessians: false, blockInfluence: false });
    const x = [10, 0.01, 1, 3];
    st.observer(0, 'o_in', Float32Array.from(x), 1, 4);
    const o = w.get('model.layers.0.self_attn.o_proj.weight')!;
    const got = readFloats(prunedStore(b, { method: 'wanda', ratio: 0.5, stats: st.finish() }).get('model.layers.0.self_attn.o_proj.weight')!);
    expect(Array.from(got)).toEqual(rowPrune(o, 4, 0.5, (i) => Math.abs(o[i]!) * Math.abs(x[i % 4]!)));
    // up_proj reads site mlp_in, which has no statistics
    expect(() => readFloats(prunedStore(b, { method: 'wanda', ratio: 0.5, stats: st }).get('model.layers.0.mlp.up_proj.weight')!)).toThrow(/wanda: no calibration statistics for model.layers.0.mlp.up_proj.weight/);
    expect(() => readFloats(prunedStore(b, { method: 'sparsegpt', ratio: 0.5, stats: st }).get('model.layers.0.mlp.up_proj.weight')!)).toThrow(/sparsegpt: no calibration Hessian/);
    // embeddings have no input site: Wanda falls back to magnitude for them
    const e = w.get('lm_head.weight')!;
    const ge = readFloats(prunedStore(b, { method: 'wanda', ratio: 0.5, includeEmbeddings: true, stats: st }).get('lm_head.weight')!);
    expect(Array.from(ge)).toEqual(rowPrune(e, 4, 0.5, (i) => Math.abs(e[i]!)));
  });
});

describe('targets, patterns and masks', () => {
  it('maps each projection to the activation site that feeds it', () => {
    expect(linearTarget('model.layers.12.self_attn.k_proj.weight')).toEqual({ layer: 12, site: 'attn_in' });
    expect(linearTarget('model.layers.0.self_attn.o_proj.weight')).toEqual({ layer: 0, site: 'o_in' });
    expect(linearTarget('model.layers.3.mlp.gate_proj.weight')).toEqual({ layer: 3, site: 'mlp_in' });
    expect(linearTarget('model.layers.3.mlp.down_proj.weight')).toEqual({ layer: 3, site: 'down_in' });
    for (const n of ['model.layers.3.mlp.down_proj.bias', 'model.layers.3.self_attn.x_proj.weight', 'xmodel.layers.3.mlp.up_proj.weight', 'model.norm.weight']) expect(linearTarget(n)).toBeUndefined();
    expect(isPrunable('lm_head.weight', false)).toBe(false);
    expect(isPrunable('lm_head.weight', true)).toBe(true);
    expect(isPrunable('model.norm.weight', true)).toBe(false);
  });

  it('N:M patterns parse and are checked per group of M', () => {
    expect(parsePattern(' 2:4 ')).toEqual({ n: 2, m: 4 });
    for (const bad of ['4:4', '0:4', '2-4', '2:', 'a:b', '5:4']) expect(() => parsePattern(bad)).toThrow(/N:M with 1 ≤ N < M/);
    const p = { n: 2, m: 4 };
    expect(satisfiesPattern(Float32Array.from([0, 1, 0, 1, 1, 0, 0, 1]), 8, p)).toBe(true);
    expect(satisfiesPattern(Float32Array.from([0, 1, 0, 1, 1, 0, 1, 1]), 8, p)).toBe(false);
    expect(satisfiesPattern(Float32Array.from([0, 0, 0, 0, 0, 0]), 6, p)).toBe(false); // 6 columns: not a multiple of 4
    // the first group has one zero; the zeros of the next group must not count for it
    expect(satisfiesPattern(Float32Array.from([1, 1, 0, 1, 0, 0, 1, 1]), 8, p)).toBe(false);
  });

  it('applyMask zeroes where the mask is set and returns how many', () => {
    const w = Float32Array.from([1, -2, 3, 4, 5]);
    expect(applyMask(w, Uint8Array.from([1, 0, 1, 1, 0]))).toBe(3);
    expect(Array.from(w)).toEqual([0, -2, 0, 0, 5]);
  });

  it('the obligations: sparsity within max(0.1 %, 1/n) of the target, or the N:M pattern; kept weights unchanged', () => {
    expect(sparsityTolerance(5000)).toBe(1e-3);
    expect(sparsityTolerance(10)).toBe(0.1);
    expect(sparsityTolerance(0)).toBe(1);
    const w = Float32Array.from({ length: 2000 }, (_v, i) => i + 1);
    const input = { name: 't', w, rows: 1, cols: 2000, ratio: 0.5 };
    const zeroed = (k: number): Float32Array => w.map((x, i) => (i < k ? 0 : x));
    expect(sparsityMet(input, zeroed(1000))).toBe(true);
    expect(sparsityMet(input, zeroed(1001))).toBe(true); // 0.1 % of 2000 = 2 (exactly 2 off is at the float edge)
    expect(sparsityMet(input, zeroed(1003))).toBe(false);
    expect(sparsityMet(input, zeroed(997))).toBe(false);
    const nm = { ...input, cols: 4, rows: 500, pattern: { n: 2, m: 4 } };
    expect(sparsityMet(nm, w.map((x, i) => (i % 4 < 2 ? 0 : x)))).toBe(true);
    expect(sparsityMet(nm, zeroed(1000))).toBe(false);
    expect(onlyZeroed(input, zeroed(7))).toBe(true);
    const moved = zeroed(7);
    moved[1999] = 1;
    expect(onlyZeroed(input, moved)).toBe(false);
  });

  it('Wanda’s contract wants one input norm per column', () => {
    const w = Float32Array.from([1, 2, 3, 4]);
    expect(() => wandaPrune({ name: 't', w, rows: 2, cols: 2, ratio: 0.5, inputNorms: Float64Array.from([1, 1, 1]) })).toThrow(/one norm per input channel/);
  });

  it('per-row counts spread the rounding so the total is ⌊r·rows·cols⌋; N:M masks the N smallest of every M', () => {
    const scores = Float64Array.from({ length: 3 * 5 }, (_v, i) => ((i * 7) % 15) + 1);
    const mask = lowestScoreMask(scores, 3, 5, 0.5, 'row');
    // row g prunes ⌊(g+1)·2.5⌋ − ⌊g·2.5⌋ = 2, 3, 2
    const perRow = [0, 1, 2].map((r) => Array.from(mask.subarray(r * 5, r * 5 + 5)).reduce((s, x) => s + x, 0));
    expect(perRow).toEqual([2, 3, 2]);
    for (let r = 0; r < 3; r++) {
      const row = Array.from(scores.subarray(r * 5, r * 5 + 5));
      const cut = [...row].sort((a, c) => a - c)[perRow[r]! - 1]!;
      row.forEach((s, c) => expect(mask[r * 5 + c]).toBe(s <= cut ? 1 : 0));
    }
    const nm = lowestScoreMask(Float64Array.from([4, 1, 3, 2, 5, 5, 1, 0]), 1, 8, 0, 'row', { n: 2, m: 4 });
    expect(Array.from(nm)).toEqual([0, 1, 0, 1, 1, 0, 1, 1].map((_x, i) => [1, 3, 6, 7].includes(i) ? 1 : 0));
    expect(() => lowestScoreMask(new Float64Array(6), 1, 6, 0, 'row', { n: 2, m: 4 })).toThrow('6 columns are not a multiple');
  });
});

describe('calibration samples', () => {
  it('reads .jsonl texts line by line (blank lines skipped) and any other file whole; errors name the line', () => {
    const jl = join(dir, 'c.jsonl');
    writeFileSync(jl, '{"text": "a b"}\n\n{"text": "c"}\n');
    expect(calibrationTexts(jl)).toEqual(['a b', 'c']);
    const txt = join(dir, 'c.txt');
    writeFileSync(txt, 'line one\n{"text": "x"}\n');
    expect(calibrationTexts(txt)).toEqual(['line one\n{"text": "x"}\n']);
    writeFileSync(jl, '{"text": "a"}\nnot json\n');
    expect(() => calibrationTexts(jl)).toThrow(/line 2.*not valid JSON/);
    writeFileSync(jl, '{"text": 3}\n');
    expect(() => calibrationTexts(jl)).toThrow(/line 1\.text.*"text"/);
    expect(() => calibrationTexts(join(dir, 'missing.txt'))).toThrow(/no such file/);
  });

  it('non-overlapping windows drawn without replacement when the text is long enough, else seeded random windows', () => {
    const encode = (t: string): number[] => Array.from(t, (ch) => ch.charCodeAt(0));
    const text = 'abcdefghijklmnopqrstuvwx'; // 24 tokens: 6 windows of 4
    const set = calibrationSet('src', [text], encode, { samples: 3, seqLen: 4, seed: 1 });
    expect(set.overlapping).toBe(false);
    expect(set.sourceTokens).toBe(24);
    expect(set.samples).toHaveLength(3);
    const starts = set.samples.map((s) => s[0]! - 97);
    for (const [i, s] of set.samples.entries()) {
      expect(starts[i]! % 4).toBe(0);
      expect(s).toEqual(encode(text.slice(starts[i], starts[i]! + 4)));
    }
    expect(new Set(starts).size).toBe(3);
    expect([...starts].sort((a, c) => a - c)).toEqual(starts); // in text order
    const all = calibrationSet('src', [text], encode, { samples: 6, seqLen: 4, seed: 2 });
    expect(all.samples.map((s) => s[0]! - 97)).toEqual([0, 4, 8, 12, 16, 20]);
    const short = calibrationSet('src', ['abcdefg', 'hij'], encode, { samples: 5, seqLen: 4, seed: 3 });
    expect(short.overlapping).toBe(true);
    expect(short.samples).toHaveLength(5);
    for (const s of short.samples) {
      expect(s).toHaveLength(4);
      expect(s[0]! - 97).toBeLessThanOrEqual(6);
      expect(s).toEqual(encode('abcdefghij'.slice(s[0]! - 97, s[0]! - 97 + 4)));
    }
    expect(() => calibrationSet('src', ['abc'], encode, { samples: 1, seqLen: 4, seed: 1 })).toThrow(/3 tokens, fewer than one sample of 4/);
    expect(() => calibrationSet('src', ['a'], encode, { samples: 1, seqLen: 1, seed: 1 })).toThrow(/1 tokens/);
  });
});
