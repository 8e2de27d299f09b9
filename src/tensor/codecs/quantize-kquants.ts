/**
 * ggml's reference K-quant quantizers (quantize_row_q4_K_ref, _q5_K_ref, _q6_K_ref), emulated in float32,
 * so the bytes equal what llama-quantize writes without an importance matrix.
 */
import { f16ToF32, f32ToF16 } from '../half.js';
import { scaleMinK4 } from './kquants.js';
import { GROUP_MAX_EPS, makeQkx2Quants, makeQxQuants, nearestInt } from './quant-search.js';

const f = Math.fround;
const QK_K = 256;

function checkLength(name: string, x: Float32Array): number {
  if (x.length % QK_K !== 0) throw new RangeError(`${name}: ${x.length} values are not a multiple of the block size ${QK_K}`);
  return x.length / QK_K;
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

/** Packs 6-bit scales and mins into 12 bytes at `o`, sets d/dmin, and re-derives the levels from them. */
function packScalesK(x: Float32Array, from: number, out: Uint8Array, o: number, nmax: number, L: Uint8Array, s: { scales: number[]; mins: number[] }): void {
  const maxScale = s.scales.reduce((a, b) => (b > a ? b : a), 0);
  const maxMin = s.mins.reduce((a, b) => (b > a ? b : a), 0);
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const sc = o + 4;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f(invScale * (s.scales[j] ?? 0))) & 0xff);
    const lm = Math.min(63, nearestInt(f(invMin * (s.mins[j] ?? 0))) & 0xff);
    if (j < 4) {
      out[sc + j] = ls;
      out[sc + j + 4] = lm;
    } else {
      out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      out[sc + j - 4] = (out[sc + j - 4] ?? 0) | ((ls >> 4) << 6);
      out[sc + j] = (out[sc + j] ?? 0) | ((lm >> 4) << 6);
    }
  }
  const d = putHalf(out, o, f(maxScale / 63));
  const dmin = putHalf(out, o + 2, f(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    const [scj, mj] = scaleMinK4(out, sc, j);
    const dj = f(d * scj);
    if (!dj) continue;
    const dm = f(dmin * mj);
    for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = Math.max(0, Math.min(nmax, nearestInt(f(f((x[from + 32 * j + ii] ?? 0) + dm) / dj))));
  }
}

export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const nb = checkLength('Q4_K', x);
  const out = new Uint8Array(nb * 144);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * 144, from = i * QK_K;
    packScalesK(x, from, out, o, 15, L, subBlockScales(x, from, 15, -1, 20, L));
    for (let c = 0; c < 4; c++) for (let l = 0; l < 32; l++) out[o + 16 + c * 32 + l] = (L[c * 64 + l] ?? 0) | ((L[c * 64 + 32 + l] ?? 0) << 4);
  }
  return out;
}

export function quantizeQ5_K(x: Float32Array): Uint8Array {
  const nb = checkLength('Q5_K', x);
  const out = new Uint8Array(nb * 176);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * 176, from = i * QK_K;
    packScalesK(x, from, out, o, 31, L, subBlockScales(x, from, 31, -0.5, 15, L));
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

export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const nb = checkLength('Q6_K', x);
  const out = new Uint8Array(nb * 210);
  const L = new Int8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * 210, from = i * QK_K;
    const scales: number[] = [];
    let maxScale = 0, maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxQuants(16, 32, x, from + 16 * ib, L.subarray(16 * ib, 16 * ib + 16));
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
