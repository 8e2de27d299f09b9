import { allFinite } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';

/** Element-wise kernels: residual add, bias add, SwiGLU gate. All may write in place. */


interface AddInput {
  a: Float32Array;
  b: Float32Array;
  length: number;
  out: Float32Array;
}

export const addContract = defineContract<AddInput, Float32Array>({
  id: 'kernel-add-v1',
  equation: 'add',
  spec: 'out[i] = a[i] + b[i] for i < length (float32 result)',
  pre: [['buffers hold length floats', ({ a, b, length, out }) => length >= 0 && a.length >= length && b.length >= length && out.length >= length]],
  post: [['finite output', ({ length }, out) => allFinite(out, length)]],
});

export function add(a: Float32Array, b: Float32Array, length: number, out: Float32Array): Float32Array {
  return addContract.run({ a, b, length, out }, () => {
    for (let i = 0; i < length; i++) out[i] = (a[i] as number) + (b[i] as number);
    return out;
  });
}

interface BiasInput {
  x: Float32Array;
  bias: Float32Array;
  n: number;
  dim: number;
}

export const addBiasContract = defineContract<BiasInput, Float32Array>({
  id: 'kernel-add-bias-v1',
  equation: 'add_bias',
  spec: 'x[t, i] ← x[t, i] + bias[i] for t < n, i < dim',
  pre: [
    ['x holds n·dim floats', ({ x, n, dim }) => n >= 0 && x.length >= n * dim],
    ['bias holds dim floats', ({ bias, dim }) => bias.length >= dim],
  ],
  post: [['finite output', ({ n, dim }, x) => allFinite(x, n * dim)]],
});

export function addBias(x: Float32Array, bias: Float32Array, n: number, dim: number): Float32Array {
  return addBiasContract.run({ x, bias, n, dim }, () => {
    for (let t = 0; t < n; t++) {
      const o = t * dim;
      for (let i = 0; i < dim; i++) x[o + i] = (x[o + i] as number) + (bias[i] as number);
    }
    return x;
  });
}

interface SwigluInput {
  gate: Float32Array;
  up: Float32Array;
  length: number;
  out: Float32Array;
}

export const swigluContract = defineContract<SwigluInput, Float32Array>({
  id: 'kernel-swiglu-v1',
  equation: 'swiglu',
  spec: 'out[i] = silu(gate[i]) · up[i],  silu(g) = g / (1 + exp(−g))',
  pre: [['buffers hold length floats', ({ gate, up, length, out }) => length >= 0 && gate.length >= length && up.length >= length && out.length >= length]],
  post: [['finite output', ({ length }, out) => allFinite(out, length)]],
});

export function swiglu(gate: Float32Array, up: Float32Array, length: number, out: Float32Array): Float32Array {
  return swigluContract.run({ gate, up, length, out }, () => {
    for (let i = 0; i < length; i++) {
      const g = gate[i] as number;
      out[i] = (g / (1 + Math.exp(-g))) * (up[i] as number);
    }
    return out;
  });
}
