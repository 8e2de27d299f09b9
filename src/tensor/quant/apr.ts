/**
 * aprender's APR_Q8 and APR_Q4 (APR v2 dtypes 129 and 128), as aprender's AprV2Writer::add_q8_tensor /
 * add_q4_tensor write them and realizar's dequantize_apr_q8 / _q4 read them:
 * - APR_Q8: one f32 scale s = amax/127 (1 when the tensor is all zero) for the whole tensor, then one i8 per
 *   value, q = round(x/s) (half away from zero) clamped to ±127; x̂ = q·s.
 * - APR_Q4: 32-value blocks { f16 s; 16 bytes }, s = amax/7 (1 for an all-zero block), q = round(x/s) clamped
 *   to [−8, 7], stored as q + 8 with element 2i in the low nibble of byte i and 2i + 1 in the high nibble;
 *   x̂ = (nibble − 8)·f16(s). Unlike Q4_0, the nibbles are interleaved and the scale is not signed.
 */
import { defineContract } from '../../contract/index.js';
import { f16ToF32, f32ToF16 } from '../half.js';
import { F16_MAX, absMax, finiteWithin, halfAt, wholeBlocks, withinBlockBound } from './checks.js';

const f = Math.fround;
const QK = 32;

/** Rust's f32::round: half away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

function encodeAprQ8(x: Float32Array): Uint8Array {
  const out = new Uint8Array(4 + x.length);
  const amax = absMax(x, 0, x.length);
  const scale = amax === 0 ? 1 : f(amax / 127);
  new DataView(out.buffer).setFloat32(0, scale, true);
  for (let i = 0; i < x.length; i++) out[4 + i] = Math.max(-127, Math.min(127, roundAway(f((x[i] ?? 0) / scale)))) & 0xff;
  return out;
}

/** Decodes an APR_Q8 tensor of `count` values: x̂ = q·s in float32. */
export function dequantizeAprQ8(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  if (bytes.byteLength < 4 + count) throw new RangeError(`APR_Q8: ${bytes.byteLength} bytes do not hold a scale and ${count} values`);
  const scale = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  for (let i = 0; i < count; i++) out[i] = (((bytes[4 + i] ?? 0) << 24) >> 24) * scale;
  return out;
}

function encodeAprQ4(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    const amax = absMax(x, b * QK, QK);
    const scale = amax === 0 ? 1 : f(amax / 7);
    const h = f32ToF16(scale);
    out[b * 18] = h & 0xff;
    out[b * 18 + 1] = h >> 8;
    for (let i = 0; i < QK; i++) {
      const nibble = Math.max(-8, Math.min(7, roundAway(f((x[b * QK + i] ?? 0) / scale)))) + 8;
      out[b * 18 + 2 + (i >> 1)] = (out[b * 18 + 2 + (i >> 1)] ?? 0) | (i & 1 ? nibble << 4 : nibble);
    }
  }
  return out;
}

/** Decodes `count` APR_Q4 values: x̂ = (nibble − 8)·f16(s). */
export function dequantizeAprQ4(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  if (count % QK !== 0 || bytes.byteLength < (count / QK) * 18) throw new RangeError(`APR_Q4: ${bytes.byteLength} bytes do not hold ${count} values`);
  for (let b = 0; b < count / QK; b++) {
    const s = f16ToF32((bytes[b * 18] ?? 0) | ((bytes[b * 18 + 1] ?? 0) << 8));
    for (let i = 0; i < QK; i++) {
      const byte = bytes[b * 18 + 2 + (i >> 1)] ?? 0;
      out[b * QK + i] = ((i & 1 ? byte >> 4 : byte & 15) - 8) * s;
    }
  }
  return out;
}

/** APR_Q8: |x − x̂| ≤ s/2 (|x/s| ≤ 127, never clamped), plus float32 slack 2e-5·s. */
function aprQ8Within(x: Float32Array, bytes: Uint8Array): boolean {
  const y = dequantizeAprQ8(bytes, x.length);
  const s = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  return withinBlockBound(x, y, Math.max(1, x.length), () => s * (0.5 + 2e-5));
}

/** APR_Q4: s = amax/7, |x/s| ≤ 7 so never clamped: |x − x̂| ≤ s/2 + 7·|f16(s) − s|, plus slack 4e-6·s. */
function aprQ4Within(x: Float32Array, bytes: Uint8Array): boolean {
  const y = dequantizeAprQ4(bytes, x.length);
  return withinBlockBound(x, y, QK, (b) => {
    const amax = absMax(x, b * QK, QK);
    const s = amax / 7;
    return amax === 0 ? 0 : s * (0.5 + 4e-6) + 7 * Math.abs(halfAt(bytes, b * 18) - s);
  });
}

const aprQ8Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-apr-q8-v1',
  equation: 'apr_q8_tensor',
  spec: 's = amax/127 over the whole tensor, q = round(x/s), x̂ = q·s; |x − x̂| ≤ s/2',
  pre: [finiteWithin(3.4e38)],
  post: [['per-element error bound', aprQ8Within]],
});

const aprQ4Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-apr-q4-v1',
  equation: 'apr_q4_block',
  spec: 's = amax/7 per 32 values, q = round(x/s) ∈ [−7, 7], x̂ = q·f16(s); |x − x̂| ≤ s/2 + 7|f16(s) − s|',
  pre: [wholeBlocks(QK), finiteWithin(F16_MAX * 7)],
  post: [['per-element error bound', aprQ4Within]],
});

/** aprender's APR_Q8 for a whole tensor: 4 + n bytes. */
export function quantizeAprQ8(x: Float32Array): Uint8Array {
  return aprQ8Contract.run(x, () => encodeAprQ8(x));
}

/** aprender's APR_Q4 blocks of 32 values: 18 bytes each. */
export function quantizeAprQ4(x: Float32Array): Uint8Array {
  return aprQ4Contract.run(x, () => encodeAprQ4(x));
}
