/** Float32 → F16 / BF16 tensors, round to nearest even (ggml's FP32_TO_FP16, torch's bfloat16 cast). */
import { defineContract } from '../../contract/index.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../half.js';
import { F16_MAX, finiteWithin } from './checks.js';

function encode(x: Float32Array, toBits: (v: number) => number): Uint8Array {
  const out = new Uint8Array(x.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) view.setUint16(i * 2, toBits(x[i] ?? 0), true);
  return out;
}

/**
 * Whether every decoded value is within half an ulp of its input: relative 2^-(p+1) for a p-bit mantissa
 * in the normal range, absolute half the smallest subnormal below it.
 */
function roundedWithin(x: Float32Array, bytes: Uint8Array, fromBits: (b: number) => number, mantissaBits: number, minNormal: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const halfUlp = 2 ** -(mantissaBits + 1);
  for (let i = 0; i < x.length; i++) {
    const v = x[i] ?? 0;
    const err = Math.abs(v - fromBits(view.getUint16(i * 2, true)));
    if (!(err <= Math.max(Math.abs(v), minNormal) * halfUlp)) return false;
  }
  return true;
}

const f16Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-float-v1',
  equation: 'f16_round',
  spec: 'x̂ = f16(x) round to nearest even; |x − x̂| ≤ 2^-11·max(|x|, 2^-14)',
  pre: [finiteWithin(F16_MAX)],
  post: [['within half an f16 ulp', (x, bytes) => roundedWithin(x, bytes, f16ToF32, 10, 2 ** -14)]],
});

const bf16Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-float-v1',
  equation: 'bf16_round',
  spec: 'x̂ = bf16(x) round to nearest even; |x − x̂| ≤ 2^-8·max(|x|, 2^-126)',
  pre: [finiteWithin(3.38e38)],
  post: [['within half a bf16 ulp', (x, bytes) => roundedWithin(x, bytes, bf16ToF32, 7, 2 ** -126)]],
});

/** F16 bytes (little-endian). */
export function encodeF16(x: Float32Array): Uint8Array {
  return f16Contract.run(x, () => encode(x, f32ToF16));
}

/** BF16 bytes (little-endian). */
export function encodeBf16(x: Float32Array): Uint8Array {
  return bf16Contract.run(x, () => encode(x, f32ToBf16));
}
