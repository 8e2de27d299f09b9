/**
 * ggml's reference quantizers (quantize_row_q8_0_ref, _q4_0_ref, _q4_1_ref, _q5_0_ref, _q5_1_ref), emulated step by step in
 * float32 (Math.fround after every operation ggml does in float; ggml-base is built without FMA
 * contraction), so the bytes equal what llama-quantize writes without an importance matrix; and, with one,
 * the importance-weighted quantize_row_q4_0_impl, _q4_1_impl, _q5_0_impl, _q5_1_impl (llama-quantize --imatrix).
 */
import { f32ToF16 } from '../half.js';
import { makeQkx2Quants, makeQxQuants } from './quant-search.js';

const f = Math.fround;
const QK = 32;

function checkLength(name: string, x: Float32Array): number {
  if (x.length % QK !== 0) throw new RangeError(`${name}: ${x.length} values are not a multiple of the block size ${QK}`);
  return x.length / QK;
}

function putHalf(out: Uint8Array, o: number, value: number): void {
  const h = f32ToF16(value);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

/** C's roundf: half away from zero. */
function roundf(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = checkLength('Q8_0', x);
  const out = new Uint8Array(nb * 34);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[i * QK + j] ?? 0));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    putHalf(out, i * 34, d);
    for (let j = 0; j < QK; j++) out[i * 34 + 2 + j] = roundf(f((x[i * QK + j] ?? 0) * id)) & 0xff;
  }
  return out;
}

/** The value of largest magnitude (the first one on ties), as ggml's `amax < fabsf(v)` scan finds it. */
function signedAbsMax(x: Float32Array, from: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < QK; j++) {
    const v = x[from + j] ?? 0;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

function q4_0Ref(x: Float32Array): Uint8Array {
  const nb = checkLength('Q4_0', x);
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    const d = f(signedAbsMax(x, i * QK) / -8);
    const id = d ? f(1 / d) : 0;
    putHalf(out, i * 18, d);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(f(f((x[i * QK + j] ?? 0) * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(f(f((x[i * QK + 16 + j] ?? 0) * id) + 8.5)));
      out[i * 18 + 2 + j] = (lo & 0xff) | (hi << 4);
    }
  }
  return out;
}

/** The block's minimum and maximum, as ggml's `v < min` / `v > max` scan finds them. */
function minMax(x: Float32Array, from: number): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let j = 0; j < QK; j++) {
    const v = x[from + j] ?? 0;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

function q4_1Ref(x: Float32Array): Uint8Array {
  const nb = checkLength('Q4_1', x);
  const out = new Uint8Array(nb * 20);
  for (let i = 0; i < nb; i++) {
    const { min, max } = minMax(x, i * QK);
    const d = f(f(max - min) / 15);
    const id = d ? f(1 / d) : 0;
    putHalf(out, i * 20, d);
    putHalf(out, i * 20 + 2, min);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(f(f(f((x[i * QK + j] ?? 0) - min) * id) + 0.5)));
      const hi = Math.min(15, Math.trunc(f(f(f((x[i * QK + 16 + j] ?? 0) - min) * id) + 0.5)));
      out[i * 20 + 4 + j] = (lo & 0xff) | (hi << 4);
    }
  }
  return out;
}

/** Low nibbles to qs, fifth bits to the 32-bit qh word (element j → bit j), as ggml packs them. */
function pack5(out: Uint8Array, qhAt: number, qsAt: number, q: ArrayLike<number>): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const a = q[j] ?? 0, b = q[j + 16] ?? 0;
    out[qsAt + j] = (a & 0x0f) | ((b & 0x0f) << 4);
    qh |= ((a & 0x10) >> 4) << j;
    qh |= ((b & 0x10) >> 4) << (j + 16);
  }
  out[qhAt] = qh & 0xff;
  out[qhAt + 1] = (qh >>> 8) & 0xff;
  out[qhAt + 2] = (qh >>> 16) & 0xff;
  out[qhAt + 3] = (qh >>> 24) & 0xff;
}

/** Q5_0 blocks { f16 d; u8 qh[4]; u8 qs[16] }: d = max/−16, q = min(31, ⌊x/d + 16.5⌋). */
function quantizeQ5_0Ref(x: Float32Array): Uint8Array {
  const nb = checkLength('Q5_0', x);
  const out = new Uint8Array(nb * 22);
  const q = new Uint8Array(QK);
  for (let i = 0; i < nb; i++) {
    const d = f(signedAbsMax(x, i * QK) / -16);
    const id = d ? f(1 / d) : 0;
    putHalf(out, i * 22, d);
    for (let j = 0; j < QK; j++) q[j] = Math.min(31, Math.trunc(f(f((x[i * QK + j] ?? 0) * id) + 16.5)));
    pack5(out, i * 22 + 2, i * 22 + 6, q);
  }
  return out;
}

/** Q5_1 blocks { f16 d; f16 m; u8 qh[4]; u8 qs[16] }: d = (max − min)/31, q = ⌊(x − min)/d + 0.5⌋. */
function quantizeQ5_1Ref(x: Float32Array): Uint8Array {
  const nb = checkLength('Q5_1', x);
  const out = new Uint8Array(nb * 24);
  const q = new Uint8Array(QK);
  for (let i = 0; i < nb; i++) {
    const { min, max } = minMax(x, i * QK);
    const d = f(f(max - min) / 31);
    const id = d ? f(1 / d) : 0;
    putHalf(out, i * 24, d);
    putHalf(out, i * 24 + 2, min);
    for (let j = 0; j < QK; j++) q[j] = Math.trunc(f(f(f((x[i * QK + j] ?? 0) - min) * id) + 0.5)) & 0xff;
    pack5(out, i * 24 + 4, i * 24 + 8, q);
  }
  return out;
}

/**
 * Calls `block(b, weight)` for every 32-value block b of every row, where the rows are imatrix.length long
 * and weight[j] = qw[j]·√(σ² + x_j²), σ² = Σx²/n over the block's row (the _impl quantizers' weights).
 */
function weightedBlocks(name: string, x: Float32Array, imatrix: Float32Array, block: (b: number, weight: Float32Array) => void): void {
  const n = imatrix.length;
  if (n % QK !== 0 || x.length % n !== 0) throw new RangeError(`${name}: rows of ${n} importance weights are not whole ${QK}-value blocks of ${x.length} values`);
  const weight = new Float32Array(QK);
  for (let row = 0; row < x.length; row += n) {
    let sumX2 = 0;
    for (let j = 0; j < n; j++) sumX2 = f(sumX2 + f((x[row + j] ?? 0) * (x[row + j] ?? 0)));
    const sigma2 = f(sumX2 / n);
    for (let c = 0; c < n; c += QK) {
      for (let j = 0; j < QK; j++) {
        const v = x[row + c + j] ?? 0;
        weight[j] = f((imatrix[c + j] ?? 0) * f(Math.sqrt(f(sigma2 + f(v * v)))));
      }
      block((row + c) / QK, weight);
    }
  }
}

/** Q4_0 / Q5_0 with importance weights: make_qx_quants(32, nmax) levels (0..2·nmax−1) and its scale. */
function weightedSymmetric(name: string, x: Float32Array, imatrix: Float32Array, nmax: 8 | 16): Uint8Array {
  const stride = nmax === 8 ? 18 : 22;
  const out = new Uint8Array(checkLength(name, x) * stride);
  const L = new Int8Array(QK);
  weightedBlocks(name, x, imatrix, (b, weight) => {
    const o = b * stride;
    putHalf(out, o, makeQxQuants(QK, nmax, x, b * QK, L, weight));
    if (nmax === 16) pack5(out, o + 2, o + 6, L);
    else for (let j = 0; j < 16; j++) out[o + 2 + j] = (L[j] ?? 0) | ((L[j + 16] ?? 0) << 4);
  });
  return out;
}

/** Q4_1 / Q5_1 with importance weights: make_qkx3_quants(32, nmax, rmin −0.9, rdelta 0.05, 36 steps). */
function weightedAffine(name: string, x: Float32Array, imatrix: Float32Array, nmax: 15 | 31): Uint8Array {
  const stride = nmax === 15 ? 20 : 24;
  const out = new Uint8Array(checkLength(name, x) * stride);
  const L = new Uint8Array(QK);
  weightedBlocks(name, x, imatrix, (b, weight) => {
    const o = b * stride;
    const r = makeQkx2Quants(QK, nmax, x, b * QK, weight, L, f(-0.9), f(0.05), 36);
    putHalf(out, o, r.scale);
    putHalf(out, o + 2, -r.min);
    if (nmax === 31) pack5(out, o + 4, o + 8, L);
    else for (let j = 0; j < 16; j++) out[o + 4 + j] = (L[j] ?? 0) | ((L[j + 16] ?? 0) << 4);
  });
  return out;
}

/** quantize_q4_0: the reference without `imatrix`, quantize_row_q4_0_impl with it (one weight per column of a row). */
export function quantizeQ4_0(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return imatrix ? weightedSymmetric('Q4_0', x, imatrix, 8) : q4_0Ref(x);
}

/** quantize_q4_1: quantize_row_q4_1_ref, or quantize_row_q4_1_impl with `imatrix`. */
export function quantizeQ4_1(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return imatrix ? weightedAffine('Q4_1', x, imatrix, 15) : q4_1Ref(x);
}

/** quantize_q5_0: quantize_row_q5_0_ref, or quantize_row_q5_0_impl with `imatrix`. */
export function quantizeQ5_0(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return imatrix ? weightedSymmetric('Q5_0', x, imatrix, 16) : quantizeQ5_0Ref(x);
}

/** quantize_q5_1: quantize_row_q5_1_ref, or quantize_row_q5_1_impl with `imatrix`. */
export function quantizeQ5_1(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return imatrix ? weightedAffine('Q5_1', x, imatrix, 31) : quantizeQ5_1Ref(x);
}
