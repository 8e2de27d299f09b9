/**
 * ggml's Q5_0 / Q5_1 reference quantizers (quantize_row_q5_0_ref / _q5_1_ref), emulated in float32
 * (Math.fround after each float operation, in ggml's order), so the bytes equal llama-quantize's. They are
 * llama.cpp's fallbacks for Q4_K / Q5_K tensors whose rows are not a multiple of 256.
 */
import { defineContract } from '../../contract/index.js';
import { dequantize } from '../codecs/index.js';
import { f32ToF16 } from '../half.js';
import { F16_MAX, absMax, finiteWithin, halfAt, wholeBlocks, withinBlockBound } from './checks.js';
import { affineWithin } from './legacy.js';

const f = Math.fround;
const QK = 32;

function putHalf(out: Uint8Array, o: number, value: number): void {
  const h = f32ToF16(value);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

/** Low nibbles to qs, fifth bits to the 32-bit qh word (element j → bit j), as ggml packs them. */
function pack5(out: Uint8Array, qhAt: number, qsAt: number, q: Uint8Array): void {
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

function encodeQ5_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 22);
  const q = new Uint8Array(QK);
  for (let i = 0; i < nb; i++) {
    let amax = 0, max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[i * QK + j] ?? 0;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -16);
    const id = d ? f(1 / d) : 0;
    putHalf(out, i * 22, d);
    for (let j = 0; j < QK; j++) q[j] = Math.min(31, Math.trunc(f(f((x[i * QK + j] ?? 0) * id) + 16.5)));
    pack5(out, i * 22 + 2, i * 22 + 6, q);
  }
  return out;
}

function encodeQ5_1(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 24);
  const q = new Uint8Array(QK);
  for (let i = 0; i < nb; i++) {
    let min = Infinity, max = -Infinity;
    for (let j = 0; j < QK; j++) {
      const v = x[i * QK + j] ?? 0;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = f(f(max - min) / 31);
    const id = d ? f(1 / d) : 0;
    putHalf(out, i * 24, d);
    putHalf(out, i * 24 + 2, min);
    for (let j = 0; j < QK; j++) q[j] = Math.trunc(f(f(f((x[i * QK + j] ?? 0) - min) * id) + 0.5)) & 0xff;
    pack5(out, i * 24 + 4, i * 24 + 8, q);
  }
  return out;
}

/** Q5_0: d = max/−16; |x − x̂| ≤ |d|/2 where x/d ≤ 15.5, ≤ |d| at the clamp; plus 16·|f16(d) − d| and slack. */
function q5_0Within(x: Float32Array, bytes: Uint8Array): boolean {
  const y = dequantize('Q5_0', bytes, x.length);
  return withinBlockBound(x, y, QK, (b) => {
    const d = absMax(x, b * QK, QK) / 16;
    return d * (1 + 4e-6) + 16 * Math.abs(Math.abs(halfAt(bytes, b * 22)) - d);
  });
}

const q5_0Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-q5_0-v1',
  equation: 'q5_0_block',
  spec: 'd = max/−16, q = min(31, ⌊x/d + 16.5⌋), x̂ = (q − 16)·f16(d); |x − x̂| ≤ |d|/2 where x/d ≤ 15.5',
  pre: [wholeBlocks(QK), finiteWithin(F16_MAX * 16)],
  post: [['per-element error bound', q5_0Within]],
});

const q5_1Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-q5_1-v1',
  equation: 'q5_1_block',
  spec: 'd = (max − min)/31, q = ⌊(x − min)/d + 0.5⌋, x̂ = q·f16(d) + f16(min); |x − x̂| ≤ d/2 + f16 rounding terms',
  pre: [wholeBlocks(QK), finiteWithin(F16_MAX)],
  post: [['per-element error bound', (x, bytes) => affineWithin('Q5_1', x, bytes)]],
});

/** Q5_0 blocks, byte for byte as ggml's quantize_row_q5_0_ref. */
export function quantizeQ5_0(x: Float32Array): Uint8Array {
  return q5_0Contract.run(x, () => encodeQ5_0(x));
}

/** Q5_1 blocks, byte for byte as ggml's quantize_row_q5_1_ref. */
export function quantizeQ5_1(x: Float32Array): Uint8Array {
  return q5_1Contract.run(x, () => encodeQ5_1(x));
}
