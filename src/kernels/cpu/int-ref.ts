import { defineContract } from '../../contract/index.js';
import { q3Scales } from '../../tensor/codecs/kquants-q23.js';
import { f16ToF32 } from '../../tensor/half.js';
import { IQ4NL_LEVELS } from './wasm/int-tables.js';
import type { WeightMatrix } from '../types.js';
import { ACT_BLOCK, type ActFormat, actRowBytes } from './int-act.js';

/**
 * The integer-dot product in scalar TypeScript: the reference the SIMD kernels are tested against bit for bit,
 * and the form taken where the SIMD kernels cannot run. For weight row r and quantized token row t, per weight
 * block (32 values for Q8_0/Q4_0, 256 for the K-quants), with w_e = s_e·q_e the stored quant times its
 * integer sub-block scale and x_e the int8 activation (all integer sums exact):
 *   32-value blocks: L[k] = Σ_{e : ((e mod 8) >> 1) = k} w_e·x_e,  acc[k] = acc[k] + f32(L[k])·(dw·dx)  (k = 0..3,
 *     the SIMD lanes), out = ((acc0 + acc1) + (acc2 + acc3)) [+ accm, Q4_1/Q5_1: accm = accm + m·s, s = ggml Q8_1's
 *     f16(dx·Σ x_e) of the block];
 *   K-quants: I = Σ_e w_e·x_e (the whole super-block, so that SIMD kernels may group lanes as they like),
 *     acc = acc + f32(I)·(dw·dx), [Q4_K] accm = accm + f32(Σ_j m_j · Σ_{e in sub-block j} x_e)·(dmin·dx),
 *     out = acc − accm.
 * Every float operation is one float32 rounding, in this order, so the result does not depend on blocking,
 * batch size or thread count.
 */

export type IntDType = 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'IQ4_NL' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K';

interface IntBlock {
  /** s_e · q_e per value of the super-block. */
  readonly q: Int32Array;
  dw: number;
  dmin: number;
  /** Q4_K/Q5_K: the 6-bit min of each 32-value sub-block; Q2_K: the 4-bit min of each 16 values. */
  readonly mins: Int32Array;
}

interface IntType {
  readonly format: ActFormat;
  readonly block: number;
  readonly bytes: number;
  /** Values per min when the super-block carries mins (Q2_K 16, Q4_K/Q5_K 32): their term is accumulated apart, in `accm`. */
  readonly mins?: 16 | 32;
  /** Q4_1/Q5_1: w = d·q + m (m in `dmin`); accm += m·s with the activation block's s (ggml's Q8_1), added at the end. */
  readonly addMin?: boolean;
  unpack(b: Uint8Array, o: number, out: IntBlock): void;
}

const fr = Math.fround;

function half(b: Uint8Array, o: number): number {
  return f16ToF32((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8));
}

function i8(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) << 24) >> 24;
}

/** ggml get_scale_min_k4: [scale, min] of sub-block j from the 12 packed bytes at s. */
function k4ScaleMin(b: Uint8Array, s: number, j: number): [number, number] {
  const u = (i: number): number => b[s + i] ?? 0;
  if (j < 4) return [u(j) & 63, u(j + 4) & 63];
  return [(u(j + 4) & 0x0f) | ((u(j - 4) >> 6) << 4), (u(j + 4) >> 4) | ((u(j) >> 6) << 4)];
}

function unpackQ8_0(b: Uint8Array, o: number, out: IntBlock): void {
  out.dw = half(b, o);
  // Stryker disable next-line EqualityOperator: `<=` writes q[32], past the 32-value Int32Array block scratch (a no-op)
  for (let e = 0; e < 32; e++) out.q[e] = i8(b, o + 2 + e);
}

function unpackQ4_0(b: Uint8Array, o: number, out: IntBlock): void {
  out.dw = half(b, o);
  for (let e = 0; e < 16; e++) {
    const v = b[o + 2 + e] ?? 0;
    out.q[e] = (v & 15) - 8;
    out.q[e + 16] = (v >> 4) - 8;
  }
}

/** Q4_K (qs at 16) and Q5_K (qh at 16: bit j of qh[l] adds 16 to value l of sub-block j; qs at 48). */
function unpackQ45_K(b: Uint8Array, o: number, out: IntBlock, qs: number, qh: number | undefined): void {
  out.dw = half(b, o);
  out.dmin = half(b, o + 2);
  // Stryker disable next-line EqualityOperator: `<=` runs a 9th sub-block: its min lands in mins[8], which the 8-group Q4_K/Q5_K min sum never reads, and its q writes fall past the 256-value scratch
  for (let j = 0; j < 8; j++) {
    const [sc, m] = k4ScaleMin(b, o + 4, j);
    out.mins[j] = m;
    const base = o + qs + 32 * (j >> 1);
    // Stryker disable next-line ArithmeticOperator: j & 1 is 0 or 1, and a shift by 4/0 = Infinity shifts by 0 (ToUint32(Infinity) = 0), so 4 / (j & 1) shifts exactly as 4 · (j & 1)
    const shift = 4 * (j & 1);
    // Stryker disable next-line EqualityOperator: `<=` writes value 32 of sub-block j onto the first value of sub-block j + 1, which is rewritten next, or past the 256-value scratch for j = 7
    for (let l = 0; l < 32; l++) {
      const high = qh === undefined ? 0 : (((b[o + qh + l] ?? 0) >> j) & 1) << 4;
      out.q[32 * j + l] = sc * ((((b[base + l] ?? 0) >> shift) & 15) + high);
    }
  }
}

/** Q5_0 (qh at 2, offset 16) and Q5_1 (m at 2, qh at 4, no offset). */
function unpackQ5(b: Uint8Array, o: number, out: IntBlock, qhAt: number, offset: number): void {
  out.dw = half(b, o);
  out.dmin = half(b, o + 2);
  const u = (i: number): number => b[o + qhAt + i] ?? 0;
  const qh = (u(0) | (u(1) << 8) | (u(2) << 16) | (u(3) << 24)) >>> 0;
  for (let e = 0; e < 16; e++) {
    const v = b[o + qhAt + 4 + e] ?? 0;
    out.q[e] = ((v & 15) | (((qh >>> e) & 1) << 4)) - offset;
    out.q[e + 16] = ((v >> 4) | (((qh >>> (e + 16)) & 1) << 4)) - offset;
  }
}

function unpackQ4_1(b: Uint8Array, o: number, out: IntBlock): void {
  out.dw = half(b, o);
  out.dmin = half(b, o + 2);
  for (let e = 0; e < 16; e++) {
    const v = b[o + 4 + e] ?? 0;
    out.q[e] = v & 15;
    out.q[e + 16] = v >> 4;
  }
}

function unpackIQ4_NL(b: Uint8Array, o: number, out: IntBlock): void {
  out.dw = half(b, o);
  for (let e = 0; e < 16; e++) {
    const v = b[o + 2 + e] ?? 0;
    out.q[e] = IQ4NL_LEVELS[v & 15] as number;
    out.q[e + 16] = IQ4NL_LEVELS[v >> 4] as number;
  }
}

function unpackQ2_K(b: Uint8Array, o: number, out: IntBlock): void {
  out.dw = half(b, o + 80);
  out.dmin = half(b, o + 82);
  // Stryker disable next-line EqualityOperator: `<=` runs a 17th group whose min and q writes fall past the 16-entry mins and the 256-value q scratch (no-ops)
  for (let c = 0; c < 16; c++) {
    const sc = b[o + c] ?? 0;
    out.mins[c] = sc >> 4;
    const q = o + 16 + 32 * (c >> 3) + 16 * (c & 1);
    const shift = 2 * ((c >> 1) & 3);
    // Stryker disable next-line EqualityOperator: `<=` writes the next group's first value (rewritten next) or past the 256-value scratch
    for (let l = 0; l < 16; l++) out.q[16 * c + l] = (sc & 15) * (((b[q + l] ?? 0) >> shift) & 3);
  }
}

function unpackQ3_K(b: Uint8Array, o: number, out: IntBlock): void {
  out.dw = half(b, o + 108);
  const scales = q3Scales(b, o + 96);
  // Stryker disable next-line EqualityOperator: `<=` runs a 17th group whose q writes fall past the 256-value scratch (no-ops)
  for (let c = 0; c < 16; c++) {
    const q = o + 32 + 32 * (c >> 3) + 16 * (c & 1);
    const shift = 2 * ((c >> 1) & 3);
    const bit = c >> 1;
    // Stryker disable next-line EqualityOperator: `<=` writes the next group's first value (rewritten next) or past the 256-value scratch
    for (let l = 0; l < 16; l++) {
      const u = (((b[q + l] ?? 0) >> shift) & 3) | ((((b[o + 16 * (c & 1) + l] ?? 0) >> bit) & 1) << 2);
      out.q[16 * c + l] = (scales[c] as number) * (u - 4);
    }
  }
}

function unpackQ6_K(b: Uint8Array, o: number, out: IntBlock): void {
  out.dw = half(b, o + 208);
  // Stryker disable next-line EqualityOperator: `<=` runs a third half whose q writes fall past the 256-value scratch (no-ops)
  for (let n = 0; n < 2; n++) {
    // Stryker disable next-line EqualityOperator: `<=` runs a 5th group that writes values 128..159 of the half (rewritten by the second half) or past the 256-value scratch
    for (let g = 0; g < 4; g++) {
      const ql = o + 64 * n + 32 * (g & 1);
      // Stryker disable next-line ArithmeticOperator: g >> 1 is 0 or 1, and a shift by 4/0 = Infinity shifts by 0 (ToUint32(Infinity) = 0), so 4 / (g >> 1) shifts exactly as 4 · (g >> 1)
      const shift = 4 * (g >> 1);
      // Stryker disable next-line EqualityOperator: `<=` writes the next group's first value (rewritten next) or past the 256-value scratch
      for (let l = 0; l < 32; l++) {
        const lo = ((b[ql + l] ?? 0) >> shift) & 15;
        const hi = ((b[o + 128 + 32 * n + l] ?? 0) >> (2 * g)) & 3;
        out.q[128 * n + 32 * g + l] = i8(b, o + 192 + 8 * n + 2 * g + (l >> 4)) * ((lo | (hi << 4)) - 32);
      }
    }
  }
}

/** The weight dtypes with an integer kernel, their activation format and block geometry. */
export const INT_TYPES: Readonly<Record<IntDType, IntType>> = {
  Q8_0: { format: 'Q8_0', block: 32, bytes: 34, unpack: unpackQ8_0 },
  Q4_0: { format: 'Q8_0', block: 32, bytes: 18, unpack: unpackQ4_0 },
  Q4_1: { format: 'Q8_0', block: 32, bytes: 20, addMin: true, unpack: unpackQ4_1 },
  Q5_0: { format: 'Q8_0', block: 32, bytes: 22, unpack: (b, o, out) => unpackQ5(b, o, out, 2, 16) },
  Q5_1: { format: 'Q8_0', block: 32, bytes: 24, addMin: true, unpack: (b, o, out) => unpackQ5(b, o, out, 4, 0) },
  IQ4_NL: { format: 'Q8_0', block: 32, bytes: 18, unpack: unpackIQ4_NL },
  Q2_K: { format: 'Q8_K', block: 256, bytes: 84, mins: 16, unpack: unpackQ2_K },
  Q3_K: { format: 'Q8_K', block: 256, bytes: 110, unpack: unpackQ3_K },
  Q4_K: { format: 'Q8_K', block: 256, bytes: 144, mins: 32, unpack: (b, o, out) => unpackQ45_K(b, o, out, 16, undefined) },
  Q5_K: { format: 'Q8_K', block: 256, bytes: 176, mins: 32, unpack: (b, o, out) => unpackQ45_K(b, o, out, 48, 16) },
  Q6_K: { format: 'Q8_K', block: 256, bytes: 210, unpack: unpackQ6_K },
};

interface RefInput {
  w: WeightMatrix;
  act: Uint8Array;
  n: number;
  out: Float32Array;
}

function isIntType(d: string): d is IntDType {
  return Object.hasOwn(INT_TYPES, d);
}

export const intReferenceContract = defineContract<RefInput, Float32Array>({
  id: 'kernel-matmul-int-v1',
  equation: 'matmul_int_reference',
  spec: 'out[t, r] = ((acc0 + acc1) + (acc2 + acc3)) − accm: float32 sums of per-block integer dots (4 lanes for 32-blocks, 1 for K-quants)',
  pre: [
    ['dtype has an integer kernel', ({ w }) => isIntType(w.dtype) && w.data instanceof Uint8Array && w.cols % INT_TYPES[w.dtype].block === 0],
    ['act holds n quantized rows', ({ w, act, n }) => isIntType(w.dtype) && act.byteLength >= n * actRowBytes(INT_TYPES[w.dtype].format, w.cols)],
    ['out holds n·rows floats', ({ w, out, n }) => out.length >= n * w.rows],
  ],
});

/** A block scratch for `type`. */
function newBlock(type: IntType): IntBlock {
  return { q: new Int32Array(type.block), dw: 0, dmin: 0, mins: new Int32Array(16) };
}

/** Dot of weight row r with quantized token row t (see the file comment). */
function rowDot(type: IntType, w: Uint8Array, r: number, cols: number, act: DataView, t: number, blk: IntBlock): number {
  const G = type.block;
  const nb = cols / G;
  const xo = t * actRowBytes(type.format, cols);
  const dOff = xo + cols;
  const sumOff = dOff + 4 * (cols / ACT_BLOCK[type.format]);
  const lanes = [0, 0, 0, 0];
  const L = [0, 0, 0, 0];
  const laneOf = G === 256 ? (): number => 0 : (e: number): number => (e & 7) >> 1;
  let accm = 0;
  for (let sb = 0; sb < nb; sb++) {
    type.unpack(w, (r * nb + sb) * type.bytes, blk);
    L.fill(0);
    for (let e = 0; e < G; e++) (L[laneOf(e)] as number) += (blk.q[e] as number) * act.getInt8(xo + sb * G + e);
    const dx = act.getFloat32(dOff + 4 * sb, true);
    const dd = fr(blk.dw * dx);
    // Stryker disable next-line EqualityOperator: `<=` adds a 5th entry to the plain lanes array, which nothing reads
    for (let k = 0; k < 4; k++) lanes[k] = fr((lanes[k] as number) + fr(fr(L[k] as number) * dd));
    if (type.mins === 32) accm = fr(accm + fr(fr(minSum(blk, act, sumOff + 16 * sb, 8)) * fr(blk.dmin * dx)));
    if (type.addMin) accm = fr(accm + fr(blk.dmin * act.getFloat32(sumOff + 4 * sb, true)));
    if (type.mins === 16) accm = fr(accm + fr(fr(minSum(blk, act, sumOff + 2 * (cols / 32) + 32 * sb, 16)) * fr(blk.dmin * dx)));
  }
  if (G === 256) return fr((lanes[0] as number) - accm);
  const sum = fr(fr((lanes[0] as number) + (lanes[1] as number)) + fr((lanes[2] as number) + (lanes[3] as number)));
  return type.addMin ? fr(sum + accm) : sum;
}

/** Σ_j m_j · (sum of the activation q's of group j), the `groups` int16 sums at byte `o`. */
function minSum(blk: IntBlock, act: DataView, o: number, groups: number): number {
  let s = 0;
  for (let j = 0; j < groups; j++) s += (blk.mins[j] as number) * act.getInt16(o + 2 * j, true);
  return s;
}

/** out[t, r] = integer-dot product of weight row r with quantized activation row t, in scalar TypeScript. */
export function matmulIntReference(w: WeightMatrix, act: Uint8Array, n: number, out: Float32Array): Float32Array {
  return intReferenceContract.run({ w, act, n, out }, () => {
    const type = INT_TYPES[w.dtype as IntDType];
    const data = w.data as Uint8Array;
    const view = new DataView(act.buffer, act.byteOffset, act.byteLength);
    const blk = newBlock(type);
    for (let t = 0; t < n; t++) for (let r = 0; r < w.rows; r++) out[t * w.rows + r] = rowDot(type, data, r, w.cols, view, t, blk);
    return out;
  });
}
