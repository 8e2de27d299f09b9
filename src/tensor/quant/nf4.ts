/**
 * NF4 (QLoRA's 4-bit NormalFloat, Dettmers et al. 2023): 64-value blocks stored as { f16 absmax; 32 bytes }
 * (34 bytes, DType NF4 = 130). Each value becomes the index of the codebook entry nearest to x/absmax; byte j
 * holds element 2j in its high nibble and 2j + 1 in its low nibble, the order bitsandbytes packs them in.
 * No double quantization: the absmax is kept as f16.
 */
import { defineContract } from '../../contract/index.js';
import { f16ToF32, f32ToF16 } from '../half.js';
import { F16_MAX, finiteWithin, halfAt, wholeBlocks, withinBlockBound } from './checks.js';

const QK = 64;
const BLOCK_BYTES = 34;

/** bitsandbytes' NF4 codebook (functional.py get_4bit_type('nf4')), as float32. */
export const NF4_CODEBOOK = Float32Array.of(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
);

/** Midpoints between neighbouring codebook entries: code k+1 is chosen when x > MID[k]. */
const MID = Float64Array.from({ length: 15 }, (_, k) => ((NF4_CODEBOOK[k] ?? 0) + (NF4_CODEBOOK[k + 1] ?? 0)) / 2);

/** Half the widest gap of the codebook (between −1 and −0.696): the error bound in units of absmax. */
const NF4_HALF_GAP = (((NF4_CODEBOOK[1] ?? 0) - (NF4_CODEBOOK[0] ?? 0)) / 2);

/** Index of the codebook entry nearest to t (ties to the lower entry, as bitsandbytes' `>` thresholds). */
export function nf4Code(t: number): number {
  let lo = 0, hi = 15;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t > (MID[mid] ?? 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeNf4(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = b * QK; j < (b + 1) * QK; j++) amax = Math.max(amax, Math.abs(x[j] ?? 0));
    const h = f32ToF16(amax);
    const a = f16ToF32(h);
    const o = b * BLOCK_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    for (let j = 0; j < QK / 2; j++) {
      const hi = a ? nf4Code((x[b * QK + 2 * j] ?? 0) / a) : 7;
      const lo = a ? nf4Code((x[b * QK + 2 * j + 1] ?? 0) / a) : 7;
      out[o + 2 + j] = (hi << 4) | lo;
    }
  }
  return out;
}

/** The 16 values codebook[k]·absmax of the block being decoded, each rounded to float32 once. */
const levels = new Float32Array(16);

/**
 * Decodes `count` NF4 values: x̂ = codebook[q]·f16(absmax), rounded to float32 (the block's 16 products are
 * formed once, then copied: training decodes frozen QLoRA weights through this every step).
 */
export function dequantizeNf4(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  if (count % QK !== 0 || bytes.byteLength < (count / QK) * BLOCK_BYTES) throw new RangeError(`NF4: ${bytes.byteLength} bytes do not hold ${count} values`);
  for (let b = 0; b < count / QK; b++) {
    const o = b * BLOCK_BYTES;
    const a = halfAt(bytes, o);
    for (let k = 0; k < 16; k++) levels[k] = (NF4_CODEBOOK[k] as number) * a;
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + 2 + j] as number;
      out[b * QK + 2 * j] = levels[q >> 4] as number;
      out[b * QK + 2 * j + 1] = levels[q & 15] as number;
    }
  }
  return out;
}

/**
 * |x − x̂| ≤ NF4_HALF_GAP·a16 + |a16 − amax| (the codebook spans [−1, 1]; a value normalised by the f16
 * absmax lands within half a gap of an entry, and values beyond ±a16 by at most |a16 − amax|), plus
 * float32 slack 1e-6·a16.
 */
function nf4Within(x: Float32Array, bytes: Uint8Array): boolean {
  const y = dequantizeNf4(bytes, x.length);
  return withinBlockBound(x, y, QK, (b) => {
    const a16 = halfAt(bytes, b * BLOCK_BYTES);
    let amax = 0;
    for (let j = b * QK; j < (b + 1) * QK; j++) amax = Math.max(amax, Math.abs(x[j] ?? 0));
    return (NF4_HALF_GAP + 1e-6) * a16 + Math.abs(a16 - amax);
  });
}

const nf4Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-nf4-v1',
  equation: 'nf4_block',
  spec: 'a = f16(max|x|), q = argmin_k |x/a − NF4[k]|, x̂ = NF4[q]·a; |x − x̂| ≤ 0.152·a + |a − max|x||',
  pre: [wholeBlocks(QK), finiteWithin(F16_MAX)],
  post: [['per-element error bound', nf4Within]],
});

/** NF4 blocks of 64 values (see the file comment for the layout). */
export function quantizeNf4(x: Float32Array): Uint8Array {
  return nf4Contract.run(x, () => encodeNf4(x));
}
