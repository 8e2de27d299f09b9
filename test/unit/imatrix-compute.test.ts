/**
 * The importance matrix apr computes, checked against its definition computed here from the weights alone
 * (no forward pass): layer 0's q/k/v input is RMSNorm(embedding)·γ, so its sums are Σ_t (e_t/rms(e_t)·γ)_j²
 * over the chunk tokens. Chunking, BOS and counts follow llama-imatrix (tools/imatrix/imatrix.cpp).
 * Agreement with llama-imatrix itself is in test/golden/imatrix-llama.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleTokenizer, computeImatrix, imatrixChunks, imatrixFromText } from '../../src/eval/imatrix.js';
import { FormatError } from '../../src/formats/errors.js';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { readImatrix } from '../../src/formats/imatrix/index.js';
import { computeImatrixFile } from '../../src/ops/imatrix.js';
import { requiresImatrix } from '../../src/tensor/quant/imatrix-rules.js';
import { decode } from '../../src/tensor/quant/index.js';
import { fixture, tempDir } from '../helpers.js';

const DRAFT = fixture('gguf', 'tiny-draft-llama-f32.gguf');
const HELDOUT = fixture('reference', 'heldout.py.txt');
const tmp = tempDir('apr-imatrix-compute-');
afterAll(() => tmp.cleanup());

describe('chunks as llama-imatrix cuts them', () => {
  const ids = Array.from({ length: 10 }, (_, i) => 100 + i);
  it('whole ctx-token slices from the start, at most `chunks`, the first token BOS when the tokenizer adds one [ob:imatrix-definition]', () => {
    expect(imatrixChunks(ids, 4, undefined, undefined)).toEqual([[100, 101, 102, 103], [104, 105, 106, 107]]);
    expect(imatrixChunks(ids, 3, 2, 1)).toEqual([[1, 101, 102], [1, 104, 105]]);
    expect(ids[0]).toBe(100);
  });
  it('a text shorter than 2·ctx tokens is refused, as llama-imatrix refuses it', () => {
    expect(() => imatrixChunks(ids, 6, undefined, undefined)).toThrow(/10 tokens; a context of 6 needs at least 12/);
  });
});

describe('apr imatrix on tiny-draft-llama (2 layers, hidden 128)', () => {
  const bundle = readGgufBundle(DRAFT);
  const tokenizer = bundleTokenizer(bundle);
  const text = readFileSync(HELDOUT, 'utf8').slice(0, 4000);
  const r = computeImatrix(bundle, tokenizer, text, { ctx: 64, chunks: 2, dataset: 'heldout' });

  it('one entry per layer weight (GGUF names), counts = chunks·ctx; q/k/v and gate/up read the same input [ob:imatrix-definition]', () => {
    const names = [...r.entries.keys()].sort();
    expect(names).toEqual(['attn_k', 'attn_output', 'attn_q', 'attn_v', 'ffn_down', 'ffn_gate', 'ffn_up'].flatMap((p) => [0, 1].map((l) => `blk.${l}.${p}.weight`)).sort());
    for (const e of r.entries.values()) expect(e.counts).toEqual([128]);
    expect([r.chunkCount, r.chunkSize, r.bos, r.datasets]).toEqual([2, 64, false, ['heldout']]);
    const sums = (n: string): number[] => Array.from(r.entries.get(n)?.sums ?? []);
    expect(sums('blk.1.attn_k.weight')).toEqual(sums('blk.1.attn_q.weight'));
    expect(sums('blk.1.attn_v.weight')).toEqual(sums('blk.1.attn_q.weight'));
    expect(sums('blk.0.ffn_up.weight')).toEqual(sums('blk.0.ffn_gate.weight'));
    expect(sums('blk.0.ffn_down.weight')).toHaveLength(256);
    expect(sums('blk.0.attn_output.weight')).toHaveLength(128);
  });

  it('layer 0\'s attn_q sums equal Σ over the chunk tokens of (RMSNorm(e)·γ)_j², from the weights alone (within 1e-5) [ob:imatrix-definition]', () => {
    const H = bundle.config.hidden_size, eps = bundle.config.rms_norm_eps;
    const tensor = (name: string): Float32Array => {
      const ref = bundle.tensors.get(name);
      if (!ref) throw new Error(name);
      return decode(ref.dtype, ref.read(), ref.shape.reduce((a, b) => a * b, 1));
    };
    const embed = tensor('model.embed_tokens.weight'), gamma = tensor('model.layers.0.input_layernorm.weight');
    const ids = tokenizer.encode(text, { addSpecialTokens: true }).slice(0, 128);
    const expected = new Float64Array(H);
    for (const t of ids) {
      const e = embed.subarray(t * H, (t + 1) * H);
      const rms = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / H + eps);
      e.forEach((v, j) => (expected[j] = (expected[j] ?? 0) + ((v / rms) * (gamma[j] ?? 0)) ** 2));
    }
    const got = r.entries.get('blk.0.attn_q.weight')?.sums ?? new Float32Array(0);
    expected.forEach((v, j) => expect(Math.abs((got[j] ?? NaN) - v)).toBeLessThanOrEqual(1e-5 * v));
  });

  it('apr imatrix writes GGUF (default) or .dat (by extension or --format) that read back with the same counts', () => {
    const data = join(tmp.dir, 'calib.txt');
    const out = join(tmp.dir, 'x.dat');
    writeFileSync(data, text);
    const res = computeImatrixFile({ input: DRAFT, data, output: out, ctx: 64, chunks: 2 });
    expect([res.format, res.entries, res.chunks, res.ctx]).toEqual(['dat', 14, 2, 64]);
    const m = readImatrix(out);
    expect([m.format, m.chunkCount, m.entries.get('blk.0.ffn_down.weight')?.counts]).toEqual(['dat', 2, [2]]); // ncall = ⌈128 / 64⌉
    const g = computeImatrixFile({ input: DRAFT, data, output: join(tmp.dir, 'y.bin'), ctx: 64, chunks: 2, format: 'gguf' });
    expect(readImatrix(g.output).entries.get('blk.1.ffn_up.weight')?.counts).toEqual([128]);
  });

  it('a calibration text that is missing or too short fails naming the file', () => {
    expect(() => imatrixFromText(bundle, join(tmp.dir, 'nope.txt'), { ctx: 64 })).toThrow(FormatError);
    const short = join(tmp.dir, 'short.txt');
    writeFileSync(short, 'def f():\n    return 1\n');
    expect(() => imatrixFromText(bundle, short, { ctx: 64 })).toThrow(/short\.txt: text: the text tokenizes to \d+ tokens; a context of 64 needs at least 128/);
  });
});

describe('types llama-quantize refuses to write without an importance matrix (tensor_requires_imatrix)', () => {
  it('IQ1/IQ2/IQ3_XXS always, Q2_K only in a Q2_K_S file, never token_embd or output', () => {
    for (const t of ['IQ1_S', 'IQ1_M', 'IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ3_XXS'] as const) expect(requiresImatrix('blk.0.ffn_up.weight', t, 19)).toBe(true);
    expect(requiresImatrix('model.layers.0.mlp.up_proj.weight', 'Q2_K', 21)).toBe(true);
    expect(requiresImatrix('model.layers.0.mlp.up_proj.weight', 'Q2_K', 10)).toBe(false);
    for (const n of ['token_embd.weight', 'output.weight', 'lm_head.weight', 'model.embed_tokens.weight']) expect(requiresImatrix(n, 'IQ2_XXS', 19)).toBe(false);
    for (const t of ['Q4_0', 'Q4_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS', 'Q3_K'] as const) expect(requiresImatrix('blk.0.ffn_up.weight', t, 15)).toBe(false);
  });
});
