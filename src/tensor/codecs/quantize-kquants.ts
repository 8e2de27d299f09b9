/**
 * ggml's K-quant quantizers Q4_K, Q5_K, Q6_K, emulated in float32, so the bytes equal what llama-quantize
 * writes: without an importance matrix quantize_row_q4_K_ref / _q5_K_ref / _q6_K_ref, with one (a weight per
 * column of a row, as llama-quantize --imatrix passes it) quantize_row_q4_K_impl / _q5_K_impl / _q6_K_impl.
 */
import { f16ToF32, f32ToF16 } from '../half.js';
import { scaleMinK4 } from './kquants.js';
import { GROUP_MAX_EPS, makeQkx2Quants, makeQpQuants, makeQxQuants, nearestInt } from './quant-search.js';

const f = Math.fround;
const QK_K = 256;

function checkLength(name: string, x: Float32Array, imatrix?: Float32Array): number {
  if (x.length % QK_K !== 0) throw new RangeError(`${name}: ${x.length} values are not a multiple of the block size ${QK_K}`);
  if (imatrix && (imatrix.length % QK_K !== 0 || x.length % imatrix.length !== 0)) {
    throw new RangeError(`${name}: rows of ${imatrix.length} importance weights are not whole ${QK_K}-value super-blocks of ${x.length} values`);
  }
  return x.length / QK_K;
}

/** The importance weights of the super-block starting at value `from` (the imatrix repeats every row). */
function rowWeights(imatrix: Float32Array | undefined, from: number): Float32Array | undefined {
  if (!imatrix) return undefined;
  const col = from % imatrix.length;
  return imatrix.subarray(col, col + QK_K);
}

function putHalf(out: Uint8Array, o: number, value: number): number {
  const h = f32ToF16(value);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
  return f16ToF32(h);
}

/** The eight sub-block (scale, min) pairs of a Q4_K/Q5_K super-block, and the levels they chose. */
function subBlockScales(x: Float32Array, from: number, nmax: number, rmin: number, nstep: number, L: Uint8Array): { scales: number[]; mins: number[] } {
  const scales: number[] = [], mins: number[] = [];
  const weights = new Float32Array(32);
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) {
      const v = x[from + 32 * j + l] ?? 0;
      sumX2 = f(sumX2 + f(v * v));
    }
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(x[from + 32 * j + l] ?? 0));
    const r = makeQkx2Quants(32, nmax, x, from + 32 * j, weights, L.subarray(32 * j, 32 * j + 32), rmin, f(0.1), nstep);
    scales.push(r.scale);
    mins.push(r.min);
  }
  return { scales, mins };
}

/** Stores sub-block j's 6-bit scale and min in the 12 scale bytes at `sc` (ggml's K4 packing, uint8 stores). */
function putScaleMin(out: Uint8Array, sc: number, j: number, ls: number, lm: number): void {
  if (j < 4) {
    out[sc + j] = ls;
    out[sc + j + 4] = lm;
  } else {
    out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
    out[sc + j - 4] = (out[sc + j - 4] ?? 0) | ((ls >> 4) << 6);
    out[sc + j] = (out[sc + j] ?? 0) | ((lm >> 4) << 6);
  }
}

/** Stores d and dmin as f16 at `o`, then re-derives every level from the packed scales (nearest, clamped). */
function relevel(x: Float32Array, from: number, out: Uint8Array, o: number, nmax: number, L: Uint8Array, dBlock: number, mBlock: number): void {
  const d = putHalf(out, o, dBlock);
  const dmin = putHalf(out, o + 2, mBlock);
  for (let j = 0; j < 8; j++) {
    const [scj, mj] = scaleMinK4(out, o + 4, j);
    const dj = f(d * scj);
    if (!dj) continue;
    const dm = f(dmin * mj);
    for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = Math.max(0, Math.min(nmax, nearestInt(f(f((x[from + 32 * j + ii] ?? 0) + dm) / dj))));
  }
}

/** Packs 6-bit scales and mins into 12 bytes at `o`, sets d/dmin, and re-derives the levels from them. */
function packScalesK(x: Float32Array, from: number, out: Uint8Array, o: number, nmax: number, L: Uint8Array, s: { scales: number[]; mins: number[] }): void {
  const maxScale = s.scales.reduce((a, b) => (b > a ? b : a), 0);
  const maxMin = s.mins.reduce((a, b) => (b > a ? b : a), 0);
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f(invScale * (s.scales[j] ?? 0))) & 0xff);
    const lm = Math.min(63, nearestInt(f(invMin * (s.mins[j] ?? 0))) & 0xff);
    putScaleMin(out, o + 4, j, ls, lm);
  }
  relevel(x, from, out, o, nmax, L, f(maxScale / 63), f(maxMin / 63));
}

/**
 * quantize_row_q4_K_impl / _q5_K_impl for one super-block: sub-block weights qw·√(σ² + x²) with
 * σ² = 2·Σx²/256, make_qkx3_quants (rmin −0.9, rdelta 0.05, 36 steps) per 32 values, then the scales and
 * mins quantized to 6 bits by make_qp_quants weighted by each sub-block's Σ weights. Q5_K clamps them to 63.
 */
function weightedScalesK(x: Float32Array, from: number, out: Uint8Array, o: number, nmax: number, L: Uint8Array, qw: Float32Array): void {
  let sumX2 = 0;
  for (let l = 0; l < QK_K; l++) sumX2 = f(sumX2 + f((x[from + l] ?? 0) * (x[from + l] ?? 0)));
  const sigma2 = f(f(2 * sumX2) / QK_K);
  const scales = new Float32Array(8), mins = new Float32Array(8), sw = new Float32Array(8), weights = new Float32Array(32);
  for (let j = 0; j < 8; j++) {
    let sumw = 0;
    for (let l = 0; l < 32; l++) {
      const v = x[from + 32 * j + l] ?? 0;
      weights[l] = f((qw[32 * j + l] ?? 0) * f(Math.sqrt(f(sigma2 + f(v * v)))));
      sumw = f(sumw + (weights[l] ?? 0));
    }
    sw[j] = sumw;
    const r = makeQkx2Quants(32, nmax, x, from + 32 * j, weights, L.subarray(32 * j, 32 * j + 32), f(-0.9), f(0.05), 36);
    scales[j] = r.scale;
    mins[j] = r.min;
  }
  const Ls = new Uint8Array(8), Lm = new Uint8Array(8);
  const dBlock = makeQpQuants(8, 63, scales, Ls, sw);
  const mBlock = makeQpQuants(8, 63, mins, Lm, sw);
  const cap = nmax === 31 ? 63 : 255;
  for (let j = 0; j < 8; j++) putScaleMin(out, o + 4, j, Math.min(cap, Ls[j] ?? 0), Math.min(cap, Lm[j] ?? 0));
  relevel(x, from, out, o, nmax, L, dBlock, mBlock);
}

/** The scales and levels of one Q4_K (nmax 15) or Q5_K (nmax 31) super-block, importance-weighted when qw is given. */
function scalesK(x: Float32Array, from: number, out: Uint8Array, o: number, nmax: number, L: Uint8Array, qw: Float32Array | undefined): void {
  if (qw) weightedScalesK(x, from, out, o, nmax, L, qw);
  else if (nmax === 15) packScalesK(x, from, out, o, 15, L, subBlockScales(x, from, 15, -1, 20, L));
  else packScalesK(x, from, out, o, 31, L, subBlockScales(x, from, 31, -0.5, 15, L));
}

/** Q4_K super-blocks; with `imatrix` (one weight per column of a row) importance-weighted as llama-quantize --imatrix. */
export function quantizeQ4_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  const nb = checkLength('Q4_K', x, imatrix);
  const out = new Uint8Array(nb * 144);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * 144, from = i * QK_K;
    scalesK(x, from, out, o, 15, L, rowWeights(imatrix, from));
    for (let c = 0; c < 4; c++) for (let l = 0; l < 32; l++) out[o + 16 + c * 32 + l] = (L[c * 64 + l] ?? 0) | ((L[c * 64 + 32 + l] ?? 0) << 4);
  }
  return out;
}

/** Q5_K super-blocks; with `imatrix` importance-weighted as llama-quantize --imatrix. */
export function quantizeQ5_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  const nb = checkLength('Q5_K', x, imatrix);
  const out = new Uint8Array(nb * 176);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * 176, from = i * QK_K;
    scalesK(x, from, out, o, 31, L, rowWeights(imatrix, from));
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const l1 = L[c * 64 + l] ?? 0, l2 = L[c * 64 + 32 + l] ?? 0;
        out[o + 16 + l] = (out[o + 16 + l] ?? 0) | (l1 > 15 ? 1 << (2 * c) : 0) | (l2 > 15 ? 2 << (2 * c) : 0);
        out[o + 48 + c * 32 + l] = (l1 & 15) | ((l2 & 15) << 4);
      }
    }
  }
  return out;
}

function packQ6(out: Uint8Array, o: number, L: Int8Array): void {
  for (let n = 0; n < 2; n++) {
    for (let l = 0; l < 32; l++) {
      const at = (k: number): number => L[n * 128 + k * 32 + l] ?? 0;
      out[o + n * 64 + l] = (at(0) & 0xf) | ((at(2) & 0xf) << 4);
      out[o + n * 64 + 32 + l] = (at(1) & 0xf) | ((at(3) & 0xf) << 4);
      out[o + 128 + n * 32 + l] = (at(0) >> 4) | ((at(1) >> 4) << 2) | ((at(2) >> 4) << 4) | ((at(3) >> 4) << 6);
    }
  }
}

/** Q6_K super-blocks; with `imatrix` the sub-block searches are weighted by it (quantize_row_q6_K_impl). */
export function quantizeQ6_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  const nb = checkLength('Q6_K', x, imatrix);
  const out = new Uint8Array(nb * 210);
  const L = new Int8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * 210, from = i * QK_K;
    const qw = rowWeights(imatrix, from);
    const scales: number[] = [];
    let maxScale = 0, maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxQuants(16, 32, x, from + 16 * ib, L.subarray(16 * ib, 16 * ib + 16), qw?.subarray(16 * ib, 16 * ib + 16));
      scales.push(scale);
      if (Math.abs(scale) > maxAbsScale) {
        maxAbsScale = Math.abs(scale);
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) continue; // an all-zero block: every byte 0, d = +0
    const iscale = f(-128 / maxScale);
    const d = putHalf(out, o + 208, f(1 / iscale));
    for (let ib = 0; ib < 16; ib++) out[o + 192 + ib] = Math.min(127, nearestInt(f(iscale * (scales[ib] ?? 0)))) & 0xff;
    for (let j = 0; j < 16; j++) {
      const dj = f(d * ((((out[o + 192 + j] ?? 0) << 24) >> 24)));
      if (!dj) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(f((x[from + 16 * j + ii] ?? 0) / dj)))) + 32;
    }
    packQ6(out, o, L);
  }
  return out;
}
