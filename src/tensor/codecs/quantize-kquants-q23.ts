/**
 * ggml's Q2_K and Q3_K quantizers, emulated in float32 (Math.fround after every operation, in ggml's order),
 * so the bytes equal llama-quantize's: without an importance matrix quantize_row_q2_K_ref /
 * quantize_row_q3_K_ref, with one (one weight per column of a row) quantize_row_q2_K_impl /
 * quantize_row_q3_K_impl, as quantize_q2_K / quantize_q3_K choose.
 */
import { f16ToF32, f32ToF16 } from '../half.js';
import { GROUP_MAX_EPS, makeQkx2Quants, makeQpQuants, makeQxQuants, nearestInt, refineLevels } from './quant-search.js';

const f = Math.fround;
const QK_K = 256;

/** The importance weights of super-block `b` (imatrix is one row's worth, so blocks cycle through it). */
function blockWeights(imatrix: Float32Array, b: number): Float32Array {
  const at = (b * QK_K) % imatrix.length;
  return imatrix.subarray(at, at + QK_K);
}

function superBlocks(name: string, x: Float32Array, imatrix: Float32Array | undefined): number {
  if (x.length % QK_K !== 0) throw new RangeError(`${name}: ${x.length} values are not a multiple of the block size ${QK_K}`);
  if (imatrix && (imatrix.length % QK_K !== 0 || x.length % imatrix.length !== 0)) {
    throw new RangeError(`${name}: an importance matrix of ${imatrix.length} values does not cover rows of whole ${QK_K}-value blocks`);
  }
  return x.length / QK_K;
}

/** Writes `value` as f16 at bytes[o..o+2) and returns the f16 read back as float32 (GGML_FP16_TO_FP32). */
function halfStore(bytes: Uint8Array, o: number, value: number): number {
  const bits = f32ToF16(value);
  bytes.set([bits & 0xff, bits >>> 8], o);
  return f16ToF32(bits);
}

/** Packs 256 two-bit levels four to a byte: byte 32h + l holds levels 128h + l + 32k at bits 2k. */
function packCrumbs(bytes: Uint8Array, o: number, L: Uint8Array | Int8Array): void {
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const at = (k: number): number => (L[128 * h + 32 * k + l] ?? 0) & 3;
      bytes[o + 32 * h + l] = at(0) | (at(1) << 2) | (at(2) << 4) | (at(3) << 6);
    }
  }
}

/** Σ x² over a super-block, accumulated in float32. */
function sumSquares(x: Float32Array, from: number): number {
  let s = 0;
  for (let j = 0; j < QK_K; j++) s = f(s + f((x[from + j] ?? 0) * (x[from + j] ?? 0)));
  return s;
}

/** qw·√(σ² + x²) for the 16 values of group j: the impl quantizers' weights. Returns their float32 sum. */
function groupWeights(x: Float32Array, from: number, qw: Float32Array, sigma2: number, out: Float32Array): number {
  let sum = 0;
  for (let l = 0; l < 16; l++) {
    const v = x[from + l] ?? 0;
    out[l] = f((qw[l] ?? 0) * f(Math.sqrt(f(sigma2 + f(v * v)))));
    sum = f(sum + (out[l] ?? 0));
  }
  return sum;
}

// ---------------------------------------------------------------- Q2_K: block_q2_K { scales[16]; qs[64]; d; dmin }

/** Re-derives the levels from the packed 4-bit scales and mins, then writes qs, as both Q2_K quantizers end. */
function finishQ2(x: Float32Array, from: number, out: Uint8Array, o: number, d: number, dmin: number, L: Uint8Array): void {
  for (let j = 0; j < 16; j++) {
    const sc = out[o + j] ?? 0;
    const dl = f(d * (sc & 0xf));
    if (!dl) continue;
    const ml = f(dmin * (sc >> 4));
    for (let i = 0; i < 16; i++) L[16 * j + i] = Math.max(0, Math.min(3, nearestInt(f(f((x[from + 16 * j + i] ?? 0) + ml) / dl))));
  }
  packCrumbs(out, o + 16, L);
}

/** Quantizes `values` with 4 bits against their maximum: nibble j = round(15·v_j / max), at bit `shift`. */
function packNibbles(out: Uint8Array, o: number, values: Float32Array, max: number, shift: number): void {
  const iscale = f(15 / max);
  for (let j = 0; j < 16; j++) out[o + j] = (out[o + j] ?? 0) | ((nearestInt(f(iscale * (values[j] ?? 0))) << shift) & 0xff);
}

/** quantize_row_q2_K_ref for the super-block at x[from..], written at out[o..o+84). */
function q2Ref(x: Float32Array, from: number, out: Uint8Array, o: number, L: Uint8Array): void {
  const scales = new Float32Array(16), mins = new Float32Array(16), weights = new Float32Array(16);
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 16; j++) {
    for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[from + 16 * j + l] ?? 0);
    const r = makeQkx2Quants(16, 3, x, from + 16 * j, weights, L.subarray(16 * j, 16 * j + 16), f(-0.5), f(0.1), 15, true);
    scales[j] = r.scale;
    mins[j] = r.min;
    if (r.scale > maxScale) maxScale = r.scale;
    if (r.min > maxMin) maxMin = r.min;
  }
  if (maxScale > 0) packNibbles(out, o, scales, maxScale, 0);
  const d = halfStore(out, o + 80, maxScale > 0 ? f(maxScale / 15) : 0);
  if (maxMin > 0) packNibbles(out, o, mins, maxMin, 4);
  const dmin = halfStore(out, o + 82, maxMin > 0 ? f(maxMin / 15) : 0);
  finishQ2(x, from, out, o, d, dmin, L);
}

/** quantize_row_q2_K_impl (importance weights qw[0..256) for this super-block). */
function q2Impl(x: Float32Array, from: number, out: Uint8Array, o: number, L: Uint8Array, qw: Float32Array): void {
  const scales = new Float32Array(16), mins = new Float32Array(16), sw = new Float32Array(16), weight = new Float32Array(16);
  const sigma2 = f(sumSquares(x, from) / QK_K);
  for (let j = 0; j < 16; j++) {
    sw[j] = groupWeights(x, from + 16 * j, qw.subarray(16 * j), sigma2, weight);
    const r = makeQkx2Quants(16, 3, x, from + 16 * j, weight, L.subarray(16 * j, 16 * j + 16), f(-0.9), f(0.05), 36);
    scales[j] = r.scale;
    mins[j] = r.min;
  }
  const Ls = new Uint8Array(16), Lm = new Uint8Array(16);
  const dm = makeQpQuants(16, 15, scales, Ls, sw);
  const mm = makeQpQuants(16, 15, mins, Lm, sw);
  const d = halfStore(out, o + 80, dm);
  const dmin = halfStore(out, o + 82, mm);
  for (let j = 0; j < 16; j++) out[o + j] = ((Ls[j] ?? 0) | ((Lm[j] ?? 0) << 4)) & 0xff;
  finishQ2(x, from, out, o, d, dmin, L);
}

/** Q2_K super-blocks (84 bytes each); with `imatrix`, importance-weighted as llama-quantize --imatrix. */
export function quantizeQ2_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  const nb = superBlocks('Q2_K', x, imatrix);
  const out = new Uint8Array(nb * 84);
  const L = new Uint8Array(QK_K);
  for (let b = 0; b < nb; b++) {
    if (imatrix) q2Impl(x, b * QK_K, out, b * 84, L, blockWeights(imatrix, b));
    else q2Ref(x, b * QK_K, out, b * 84, L);
  }
  return out;
}

// ---------------------------------------------------------------- Q3_K: block_q3_K { hmask[32]; qs[64]; scales[12]; d }

/**
 * make_q3_quants(n, nmax, x, L, do_rmse = true): levels in [−nmax, nmax) refined by coordinate descent on
 * x²-weighted error; L receives level + nmax; returns the scale.
 */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, from: number, L: Int8Array): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const v = x[from + i] ?? 0;
    if (Math.abs(v) > amax) [amax, max] = [Math.abs(v), v];
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  const iscale = f(-nmax / max);
  const w = new Float32Array(n);
  const s: [number, number] = [0, 0];
  for (let i = 0; i < n; i++) {
    const v = x[from + i] ?? 0;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(f(iscale * v))));
    L[i] = l;
    w[i] = f(v * v);
    s[0] = f(s[0] + f(f((w[i] ?? 0) * v) * l));
    s[1] = f(s[1] + f(f((w[i] ?? 0) * l) * l));
  }
  refineLevels(n, x, from, w, L, { lo: -nmax, hi: nmax - 1, sl2First: false }, s);
  for (let i = 0; i < n; i++) L[i] = (L[i] ?? 0) + nmax;
  return s[1] > 0 ? f(s[0] / s[1]) : 0;
}

/** Packs sixteen 6-bit biased scales (0..63) into the 12 scale bytes at `o`, as ggml's Q3_K quantizers do. */
function packScalesQ3(out: Uint8Array, o: number, ls: Uint8Array): void {
  for (let j = 0; j < 16; j++) {
    const l = ls[j] ?? 0;
    out[o + (j & 7)] = (out[o + (j & 7)] ?? 0) | ((l & 0xf) << (j < 8 ? 0 : 4));
    out[o + 8 + (j % 4)] = (out[o + 8 + (j % 4)] ?? 0) | ((l >> 4) << (2 * (j >> 2)));
  }
}

/** Re-derives the levels from d and the 6-bit scales, then writes hmask (bit ⌊j/32⌋ of byte j mod 32) and qs. */
function finishQ3(x: Float32Array, from: number, out: Uint8Array, o: number, d: number, ls: Uint8Array, L: Int8Array): void {
  for (let j = 0; j < 16; j++) {
    const dl = f(d * ((ls[j] ?? 0) - 32));
    if (!dl) continue;
    for (let i = 0; i < 16; i++) L[16 * j + i] = Math.max(-4, Math.min(3, nearestInt(f((x[from + 16 * j + i] ?? 0) / dl)))) + 4;
  }
  for (let j = 0; j < QK_K; j++) {
    if ((L[j] ?? 0) > 3) out[o + (j & 31)] = (out[o + (j & 31)] ?? 0) | (1 << (j >> 5));
  }
  packCrumbs(out, o + 32, L);
}

/** quantize_row_q3_K_ref for the super-block at x[from..], written at out[o..o+110). */
function q3Ref(x: Float32Array, from: number, out: Uint8Array, o: number, L: Int8Array): void {
  const scales = new Float32Array(16);
  let maxScale = 0, amax = 0;
  for (let j = 0; j < 16; j++) {
    scales[j] = makeQ3Quants(16, 4, x, from + 16 * j, L.subarray(16 * j, 16 * j + 16));
    const a = Math.abs(scales[j] ?? 0);
    if (a > amax) [amax, maxScale] = [a, scales[j] ?? 0];
  }
  const ls = new Uint8Array(16);
  let d = halfStore(out, o + 108, 0);
  if (maxScale) {
    const iscale = f(-32 / maxScale);
    for (let j = 0; j < 16; j++) ls[j] = Math.max(-32, Math.min(31, (nearestInt(f(iscale * (scales[j] ?? 0))) << 24) >> 24)) + 32;
    packScalesQ3(out, o + 96, ls);
    d = halfStore(out, o + 108, f(1 / iscale));
  }
  finishQ3(x, from, out, o, d, ls, L);
}

/** quantize_row_q3_K_impl (importance weights qw[0..256) for this super-block). */
function q3Impl(x: Float32Array, from: number, out: Uint8Array, o: number, L: Int8Array, qw: Float32Array): void {
  const scales = new Float32Array(16), sw = new Float32Array(16), weight = new Float32Array(16);
  const sigma2 = f(f(2 * sumSquares(x, from)) / QK_K);
  for (let j = 0; j < 16; j++) {
    sw[j] = groupWeights(x, from + 16 * j, qw.subarray(16 * j), sigma2, weight);
    scales[j] = makeQxQuants(16, 4, x, from + 16 * j, L.subarray(16 * j, 16 * j + 16), weight);
  }
  const Ls = new Int8Array(16);
  const dBlock = makeQxQuants(16, 32, scales, 0, Ls, sw);
  const ls = Uint8Array.from(Ls);
  packScalesQ3(out, o + 96, ls);
  finishQ3(x, from, out, o, halfStore(out, o + 108, dBlock), ls, L);
}

/** Q3_K super-blocks (110 bytes each); with `imatrix`, importance-weighted as llama-quantize --imatrix. */
export function quantizeQ3_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  const nb = superBlocks('Q3_K', x, imatrix);
  const out = new Uint8Array(nb * 110);
  const L = new Int8Array(QK_K);
  for (let b = 0; b < nb; b++) {
    if (imatrix) q3Impl(x, b * QK_K, out, b * 110, L, blockWeights(imatrix, b));
    else q3Ref(x, b * QK_K, out, b * 110, L);
  }
  return out;
}
