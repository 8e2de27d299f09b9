/**
 * Q2_K and Q3_K against llama.cpp itself (tools from ../shared/tools/build-llama-cpp.sh; skipped with the
 * reason when they are absent):
 * - `apr quantize --scheme q2_k | q3_k_s | q3_k_m | q3_k_l` on tiny-coder-llama's f32 GGUF against
 *   `llama-quantize <f32> <out> Q2_K | Q3_K_S | Q3_K_M | Q3_K_L`: every tensor the same dtype and bytes, the
 *   same general.file_type (llama_tensor_get_type_impl's mixtures, ggml's quantize_row_q{2,3}_K_ref).
 * - With an importance matrix: llama-imatrix makes one from the held-out Python text (8 chunks of 128
 *   tokens), llama-quantize --imatrix writes a Q2_K file (Q3_K for attn_v, ffn_down, attn_output), and
 *   quantize(type, values, weights) of every Q2_K/Q3_K tensor must give the same bytes (ggml's
 *   quantize_row_q{2,3}_K_impl). The weights are read from the imatrix GGUF here as llama-quantize's
 *   load_imatrix computes them: in_sum2 / counts.
 * - ggml's own quantize_q2_K / quantize_q3_K (the build's libggml-base.a linked into a 15-line C harness;
 *   skipped when that library is absent) on random rows with zeros, constant groups, one-signed groups,
 *   outliers and tiny values, with and without random importance weights: the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf/index.js';
import { quantizeModel } from '../../src/ops/quantize.js';
import { dequantize, quantize } from '../../src/tensor/codecs/index.js';
import { tempDir } from '../helpers.js';
import { FIX, bin, llamaQuantize, reason } from './gguf-llama-cpp-tools.js';

const F32 = join(FIX, 'tiny-coder-llama-f32.gguf');
const tmp = tempDir('apr-quant-q23-');
afterAll(() => tmp.cleanup());

type Tensors = Map<string, { type: string; bytes: Buffer }>;

function tensorsOf(path: string): { tensors: Tensors; fileType: unknown } {
  const g = readGguf(path);
  try {
    const tensors: Tensors = new Map();
    for (const t of g.tensors) tensors.set(t.name, { type: t.ggmlType, bytes: Buffer.from(g.read(t)) });
    return { tensors, fileType: g.kv.get('general.file_type')?.value };
  } finally {
    g.close();
  }
}

/** Names whose dtype or bytes differ between our file and llama.cpp's (missing tensors included). */
function mismatches(ours: Tensors, theirs: Tensors): string[] {
  const out: string[] = [];
  for (const [name, t] of theirs) {
    const u = ours.get(name);
    if (u?.type !== t.type || !u.bytes.equals(t.bytes)) out.push(`${name}: ours ${u?.type ?? 'missing'}, llama.cpp ${t.type}`);
  }
  return out;
}

/** llama-quantize's load_imatrix on a GGUF imatrix: weights[name] = in_sum2 / count (float32), 1 where count is 0. */
function importance(path: string): Map<string, Float32Array> {
  const g = readGguf(path);
  try {
    const raw = new Map(g.tensors.map((t) => [t.name, dequantize('F32', g.read(t), t.dims.reduce((a, b) => a * b, 1))]));
    const out = new Map<string, Float32Array>();
    for (const [name, sums] of raw) {
      const base = name.endsWith('.in_sum2') ? name.slice(0, -'.in_sum2'.length) : undefined;
      const count = base === undefined ? undefined : raw.get(`${base}.counts`)?.[0];
      if (base === undefined || count === undefined) continue;
      out.set(base, sums.map((s) => (count > 0 ? Math.fround(s / count) : 1)));
    }
    return out;
  } finally {
    g.close();
  }
}

describe.skipIf(bin === undefined)('Q2_K / Q3_K = llama.cpp (run live)', () => {
  for (const [scheme, type] of [['q2_k', 'Q2_K'], ['q3_k_s', 'Q3_K_S'], ['q3_k_m', 'Q3_K_M'], ['q3_k_l', 'Q3_K_L']] as const) {
    it(`tiny-coder-llama ${scheme}: every tensor identical to llama-quantize ${type} [ob:quantize-llama-identical] [ob:${type.startsWith('Q2') ? 'q2k' : 'q3k'}-llama-bytes]`, () => {
      const theirs = join(tmp.dir, `llama-${type}.gguf`), ours = join(tmp.dir, `ours-${scheme}.gguf`);
      llamaQuantize(F32, theirs, type);
      quantizeModel({ input: F32, output: ours, scheme });
      const a = tensorsOf(ours), b = tensorsOf(theirs);
      const counts: Record<string, number> = {};
      for (const t of b.tensors.values()) counts[t.type] = (counts[t.type] ?? 0) + 1;
      const bad = mismatches(a.tensors, b.tensors);
      console.log(`${scheme} vs llama-quantize ${type}: ${b.tensors.size - bad.length}/${b.tensors.size} identical; llama.cpp's types ${JSON.stringify(counts)}`);
      expect(bad).toEqual([]);
      expect(a.fileType).toBe(b.fileType);
    });
  }

  it('with an importance matrix from llama-imatrix, every Q2_K and Q3_K tensor equals llama-quantize --imatrix [ob:q2k-llama-bytes] [ob:q3k-llama-bytes]', () => {
    const imatrixFile = join(tmp.dir, 'imatrix.gguf');
    const text = resolve('../shared/fixtures/reference/heldout.py.txt');
    execFileSync(join(bin ?? '', 'llama-imatrix'), ['-m', F32, '-f', text, '--chunks', '8', '-c', '128', '-t', '2', '-o', imatrixFile], { stdio: 'pipe' });
    const weights = importance(imatrixFile);
    const source = tensorsOf(F32).tensors;
    // Q2_K's mixture stores attn_v, ffn_down and attn_output as Q3_K, so one file exercises both impls.
    const out = join(tmp.dir, 'llama-imatrix-Q2_K.gguf');
    execFileSync(join(bin ?? '', 'llama-quantize'), ['--imatrix', imatrixFile, F32, out, 'Q2_K', '2'], { stdio: 'pipe' });
    let compared = 0, weighted = 0;
    const bad: string[] = [];
    for (const [name, t] of tensorsOf(out).tensors) {
      if (t.type !== 'Q2_K' && t.type !== 'Q3_K') continue;
      const src = source.get(name)?.bytes ?? Buffer.alloc(0);
      const values = dequantize('F32', new Uint8Array(src), src.length / 4);
      // token_embd is looked up, not multiplied, so llama-imatrix has no entry and llama-quantize uses none
      const w = weights.get(name);
      compared++;
      if (w) weighted++;
      if (!Buffer.from(quantize(t.type, values, w)).equals(t.bytes)) bad.push(`${name} (${t.type}${w ? ', weighted' : ''})`);
    }
    console.log(`imatrix (${weights.size} entries): ${compared - bad.length}/${compared} Q2_K/Q3_K tensors (${weighted} importance-weighted) identical to llama-quantize --imatrix`);
    expect(weighted).toBeGreaterThan(40);
    expect(bad).toEqual([]);
  });
});

/** ggml's quantize_q2_K / quantize_q3_K through ggml_quantize_chunk, from the llama.cpp build's libggml-base.a. */
const HARNESS = `#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include "ggml.h"
int main(void) {
  int32_t h[4];
  if (fread(h, 4, 4, stdin) != 4) return 1;
  size_t n = (size_t)h[1] * h[2];
  float *x = malloc(n * 4), *w = NULL;
  if (fread(x, 4, n, stdin) != n) return 2;
  if (h[3]) { w = malloc((size_t)h[2] * 4); if (fread(w, 4, h[2], stdin) != (size_t)h[2]) return 3; }
  void *out = malloc(ggml_row_size(h[0], h[2]) * h[1]);
  fwrite(out, 1, ggml_quantize_chunk(h[0], x, out, 0, h[1], h[2], w), stdout);
  return 0;
}
`;
/** llama.cpp's source tree: $APR_LLAMA_CPP_SRC, else the one above the tools' build, else ./.cache/llama-cpp/src (.ci/run's). */
const llamaSrc = process.env['APR_LLAMA_CPP_SRC'] ?? (bin ? join(bin, '../..') : resolve('.cache/llama-cpp/src'));
const libggml = join(llamaSrc, 'build/ggml/src/libggml-base.a');
const include = join(llamaSrc, 'ggml/include');
const haveLib = existsSync(libggml) && existsSync(join(include, 'ggml.h'));

/** Rows whose super-blocks mix the awkward cases: zeros, a constant, one sign, an outlier, subnormal-small values. */
function awkwardRows(seed: number, rows: number, cols: number): Float32Array {
  let s = seed;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const x = new Float32Array(rows * cols);
  const kinds = [(): number => 0, (): number => 0.5, (): number => -next(), (): number => next() + 0.1, (): number => (next() < 0.02 ? 300 : next() - 0.5), (): number => (next() - 0.5) * 1e-30, (): number => (next() - 0.5) * 0.04, (): number => (next() < 0.5 ? 0 : next() * 2 - 1)];
  for (let i = 0; i < x.length; i++) x[i] = (kinds[(Math.floor(i / 16) + seed) % kinds.length] ?? kinds[0])?.() ?? 0;
  return x;
}

describe.skipIf(!haveLib)('Q2_K / Q3_K = ggml\'s quantize_q2_K / quantize_q3_K on awkward rows', () => {
  it('random rows with and without importance weights: the same bytes as ggml [ob:q2k-llama-bytes] [ob:q3k-llama-bytes]', () => {
    const exe = join(tmp.dir, 'harness');
    writeFileSync(`${exe}.c`, HARNESS);
    execFileSync('cc', ['-O1', `${exe}.c`, `-I${include}`, libggml, '-lm', '-lpthread', '-lstdc++', '-fopenmp', '-o', exe], { stdio: 'pipe' });
    const bad: string[] = [];
    let cases = 0;
    for (const [type, id] of [['Q2_K', 10], ['Q3_K', 11]] as const) {
      for (let seed = 1; seed <= 24; seed++) {
        const rows = 3, cols = 256 * (1 + (seed % 3));
        const x = awkwardRows(seed, rows, cols);
        const w = seed % 2 ? Float32Array.from(awkwardRows(seed + 99, 1, cols), (v) => (seed % 4 === 1 ? Math.abs(v) : Math.fround(v * v))) : undefined;
        const input = Buffer.concat([Buffer.from(new Int32Array([id, rows, cols, w ? 1 : 0]).buffer), Buffer.from(x.buffer), ...(w ? [Buffer.from(w.buffer)] : [])]);
        const theirs = execFileSync(exe, { input });
        cases++;
        if (!Buffer.from(quantize(type, x, w)).equals(theirs)) bad.push(`${type} seed ${seed}${w ? ' with imatrix' : ''}`);
      }
    }
    console.log(`ggml harness: ${cases - bad.length}/${cases} cases identical`);
    expect(bad).toEqual([]);
  });
});

if (bin === undefined) {
  describe('Q2_K / Q3_K vs llama.cpp', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}
