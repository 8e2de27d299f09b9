/**
 * The architecture fixtures of test/fixtures/arch (made by scripts/make-arch-fixtures.py; see its README):
 * small random-weight GGUF models of each architecture and llama.cpp's logits for them.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Backend, WeightMatrix } from '../../src/kernels/types.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/half.js';

export const ARCH_DIR = resolve('test/fixtures/arch');

interface Manifest {
  tokens: number[];
  vocab: number;
  models: Record<string, { gguf: string; logits: string; command: string; hparams: Record<string, unknown> }>;
}

export const manifest = JSON.parse(readFileSync(join(ARCH_DIR, 'manifest.json'), 'utf8')) as Manifest;
export const ARCH_NAMES = Object.keys(manifest.models);
export const archGguf = (name: string): string => join(ARCH_DIR, `${name}.gguf`);

/** llama.cpp's logits for the manifest tokens: [tokens, vocab] float32. */
export function llamaLogits(name: string): Float32Array {
  const buf = readFileSync(join(ARCH_DIR, `${name}.logits.f32`));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

/** max |a − b| of each row of `dim` values. */
export function rowMaxDiffs(a: Float32Array, b: Float32Array, dim: number): number[] {
  return Array.from({ length: a.length / dim }, (_, t) => maxAbsDiff(a.subarray(t * dim, (t + 1) * dim), b.subarray(t * dim, (t + 1) * dim)));
}

/**
 * Tolerances against llama.cpp, on logits up to |z| ≈ 11.
 * FLOAT32: both sides compute in float32 (llama-logits runs an F32 KV cache, no flash attention) and differ
 * only in summation order and libm rounding. Measured on these fixtures: llama (the architecture apr matches
 * transformers on within 1e-4) 6.2e-6, qwen3 4.8e-6, mistral 6.7e-6, phi3 3.8e-6 — the bound is 8× the
 * llama baseline; a wrong mask, norm or RoPE moves logits by > 0.1 (the negative controls below).
 * GEMMA: llama.cpp's CPU GELU reads a float16 table (GGML_GELU_FP16, ggml-cpu/vec.h): the gate is rounded to
 * float16 and so is the result, a relative error up to 2⁻¹¹ ≈ 4.9e-4 each, carried through the MLPs to the
 * logits: measured 1.8e-3 (gemma2) and 2.2e-3 (gemma3); bound 1e-2.
 */
export const TOL_FLOAT32 = 5e-5;
export const TOL_GEMMA = 1e-2;

const fr = Math.fround;
/** ggml's ggml_gelu_f32 in float32: 0.5x(1 + tanh(√(2/π)·x·(1 + 0.044715x²))). */
function ggmlGeluF32(x: number): number {
  return fr(0.5 * x * fr(1 + fr(Math.tanh(fr(fr(0.7978845608028654) * x * fr(1 + fr(fr(0.044715) * x * x)))))));
}

/**
 * ggml-cpu's ggml_vec_geglu_f32 with GGML_GELU_FP16 (written from ggml-cpu/vec.h, independently of apr):
 * 0 for x ≤ −10, x·g for x ≥ 10, else table[fp16(x)]·g with table[h] = fp16(gelu(f32(h))).
 */
export function ggmlTableGeglu(gate: Float32Array, up: Float32Array, length: number, out: Float32Array): void {
  for (let i = 0; i < length; i++) {
    const x = gate[i] as number;
    const g = x <= -10 ? 0 : x >= 10 ? x : f16ToF32(f32ToF16(ggmlGeluF32(f16ToF32(f32ToF16(x)))));
    out[i] = g * (up[i] as number);
  }
}

/** A backend with llama.cpp's table GELU in place of the exact one. */
export function withTableGelu(be: Backend<Float32Array, WeightMatrix>): Backend<Float32Array, WeightMatrix> {
  return { ...be, name: `${be.name}+ggml-gelu-table`, geglu: ggmlTableGeglu };
}
