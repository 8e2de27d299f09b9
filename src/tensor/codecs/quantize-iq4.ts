/**
 * ggml's IQ4_NL and IQ4_XS quantizers (quantize_iq4_nl / quantize_iq4_xs → quantize_row_iq4_nl_impl with
 * ntry = 7, what llama-quantize runs), emulated in float32: Math.fround after every float operation, in
 * ggml's order (ggml-base is built without FMA contraction), so the bytes equal llama-quantize's.
 *
 * Per 32 values: weights w = x² without an importance matrix, qw·√(σ² + x²) with one (σ² = 2·Σx²/n over the
 * super-block); with 1/d = 127/max (max the value of largest |x|) each value takes the kvalues_iq4nl level q
 * nearest x/d and d is refit by weighted least squares Σwqx/Σwq²; 15 trial inverse scales (t − 127)/max,
 * t ∈ [−7, 7], refit the same way, and the d maximising (Σwqx)²/Σwq² is kept. IQ4_NL stores d as f16 and
 * re-picks the levels for the float32 d; IQ4_XS stores one f16 super-scale D = −d_max/32 and a 6-bit multiplier
 * l per 32 values, and re-picks the levels for the float32 D·l.
 */
import { f32ToF16 } from '../half.js';
import { iqTableSigned } from './iq-grids.js';
import { GROUP_MAX_EPS, nearestInt } from './quant-search.js';

const f = Math.fround;
const NTRY = 7;
const BLOCK = 32;

/** ggml's best_index_int8(16, kvalues_iq4nl, x): the index of the level nearest x (ties to the upper one). */
function bestIndexIq4(values: Int8Array, x: number): number {
  if (x <= (values[0] ?? 0)) return 0;
  if (x >= (values[15] ?? 0)) return 15;
  let ml = 0, mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < (values[mav] ?? 0)) mu = mav;
    else ml = mav;
  }
  return f(x - (values[mu - 1] ?? 0)) < f((values[mu] ?? 0) - x) ? mu - 1 : mu;
}

interface Block {
  x: Float32Array;
  from: number;
  weight: Float32Array;
  values: Int8Array;
}

/** Σ w·q·x and Σ w·q² for the levels nearest id·x; the levels go to L when given. */
function levelSums(b: Block, id: number, L?: Uint8Array): [number, number] {
  let sumqx = 0, sumq2 = 0;
  for (let j = 0; j < BLOCK; j++) {
    const xj = b.x[b.from + j] ?? 0;
    const l = bestIndexIq4(b.values, f(id * xj));
    if (L) L[j] = l;
    const q = b.values[l] ?? 0;
    const wq = f((b.weight[j] ?? 0) * q);
    sumqx = f(sumqx + f(wq * xj));
    sumq2 = f(sumq2 + f(wq * q));
  }
  return [sumqx, sumq2];
}

/** The scale of one 32-value block (0 for a block below GROUP_MAX_EPS, whose L is then left as it was). */
function blockScale(b: Block, L: Uint8Array): number {
  let amax = 0, max = 0;
  for (let j = 0; j < BLOCK; j++) {
    const v = b.x[b.from + j] ?? 0;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  if (amax < GROUP_MAX_EPS) return 0;
  const v0 = b.values[0] ?? 0;
  let [sumqx, sumq2] = levelSums(b, f(1 / f(-max / v0)), L);
  let d = sumq2 > 0 ? f(sumqx / sumq2) : 0;
  let best = f(d * sumqx);
  for (let itry = -NTRY; itry <= NTRY; itry++) {
    [sumqx, sumq2] = levelSums(b, f((itry + v0) / max));
    if (sumq2 > 0 && f(sumqx * sumqx) > f(best * sumq2)) {
      d = f(sumqx / sumq2);
      best = f(d * sumqx);
    }
  }
  return d;
}

/** ggml's weights: x² without an importance matrix, qw·√(σ² + x²) with one. */
function fillWeights(x: Float32Array, from: number, sigma2: number, weight: Float32Array, imatrix: Float32Array | undefined): void {
  for (let j = 0; j < BLOCK; j++) {
    const v = x[from + j] ?? 0;
    const x2 = f(v * v);
    weight[j] = imatrix ? f((imatrix[(from + j) % imatrix.length] ?? 0) * f(Math.sqrt(f(sigma2 + x2)))) : x2;
  }
}

/** 2·Σx²/n over the super-block [from, from + n). */
function sigma2Of(x: Float32Array, from: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s = f(s + f((x[from + j] ?? 0) * (x[from + j] ?? 0)));
  return f(s * f(2 / n));
}

/** The per-32 scales of a super-block of n values (their levels in L), as quantize_row_iq4_nl_impl's first pass. */
function superBlockScales(x: Float32Array, from: number, n: number, L: Uint8Array, weight: Float32Array, imatrix: Float32Array | undefined): number[] {
  const sigma2 = sigma2Of(x, from, n);
  const values = iqTableSigned('kvalues_iq4nl');
  const scales: number[] = [];
  for (let ib = 0; ib < n / BLOCK; ib++) {
    fillWeights(x, from + BLOCK * ib, sigma2, weight, imatrix);
    scales.push(blockScale({ x, from: from + BLOCK * ib, weight, values }, L.subarray(BLOCK * ib, BLOCK * ib + BLOCK)));
  }
  return scales;
}

/** Levels nearest id·x for n values. */
function relevel(x: Float32Array, from: number, n: number, id: number, L: Uint8Array): void {
  const values = iqTableSigned('kvalues_iq4nl');
  for (let j = 0; j < n; j++) L[j] = bestIndexIq4(values, f(id * (x[from + j] ?? 0)));
}

/** qs: byte 16i + j holds level 32i + j (low nibble) and 32i + 16 + j (high nibble). */
function packNibbles(L: Uint8Array, out: Uint8Array, o: number): void {
  for (let i = 0; i < L.length / 32; i++) {
    for (let j = 0; j < 16; j++) out[o + 16 * i + j] = (L[32 * i + j] ?? 0) | ((L[32 * i + 16 + j] ?? 0) << 4);
  }
}

function putHalf(out: Uint8Array, o: number, value: number): void {
  const h = f32ToF16(value);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

function blocksOf(name: string, x: Float32Array, size: number): number {
  if (x.length % size !== 0) throw new RangeError(`${name}: ${x.length} values are not a multiple of the block size ${size}`);
  return x.length / size;
}

/** IQ4_NL blocks { f16 d; u8 qs[16] }, byte for byte as ggml's quantize_iq4_nl (with `imatrix` as its quant_weights). */
export function quantizeIQ4_NL(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  const nb = blocksOf('IQ4_NL', x, BLOCK);
  const out = new Uint8Array(nb * 18);
  const L = new Uint8Array(BLOCK), weight = new Float32Array(BLOCK);
  for (let i = 0; i < nb; i++) {
    const d = superBlockScales(x, i * BLOCK, BLOCK, L, weight, imatrix)[0] ?? 0;
    putHalf(out, i * 18, d);
    relevel(x, i * BLOCK, BLOCK, d ? f(1 / d) : 0, L);
    packNibbles(L, out, i * 18 + 2);
  }
  return out;
}

/** The f16 super-scale and packed 6-bit scales of an IQ4_XS block; the levels re-picked for the rounded scales. */
function packXsScales(x: Float32Array, from: number, scales: readonly number[], L: Uint8Array, out: Uint8Array, o: number): void {
  let maxScale = 0, amaxScale = 0;
  for (const s of scales) {
    if (Math.abs(s) > amaxScale) {
      amaxScale = Math.abs(s);
      maxScale = s;
    }
  }
  const d = f(-maxScale / 32);
  putHalf(out, o, d);
  const id = d ? f(1 / d) : 0;
  let scalesH = 0;
  for (let ib = 0; ib < scales.length; ib++) {
    const l = Math.max(-32, Math.min(31, nearestInt(f(id * (scales[ib] ?? 0)))));
    const dl = f(d * l);
    relevel(x, from + BLOCK * ib, BLOCK, dl ? f(1 / dl) : 0, L.subarray(BLOCK * ib, BLOCK * ib + BLOCK));
    const ls = l + 32;
    out[o + 4 + (ib >> 1)] = (out[o + 4 + (ib >> 1)] ?? 0) | ((ls & 0xf) << (4 * (ib % 2)));
    scalesH |= (ls >> 4) << (2 * ib);
  }
  out[o + 2] = scalesH & 0xff;
  out[o + 3] = scalesH >> 8;
}

/** IQ4_XS super-blocks { f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128] }, byte for byte as ggml's quantize_iq4_xs. */
export function quantizeIQ4_XS(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  const QK_K = 256;
  const nb = blocksOf('IQ4_XS', x, QK_K);
  const out = new Uint8Array(nb * 136);
  const L = new Uint8Array(QK_K), weight = new Float32Array(BLOCK);
  for (let i = 0; i < nb; i++) {
    const scales = superBlockScales(x, i * QK_K, QK_K, L, weight, imatrix);
    packXsScales(x, i * QK_K, scales, L, out, i * 136);
    packNibbles(L, out, i * 136 + 8);
  }
  return out;
}
