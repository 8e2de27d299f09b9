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

/** transformers' gelu_pytorch_tanh: ½·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))), in float64. */
function geluTanh(g: number): number {
  return 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g)));
}

export const gegluContract = defineContract<SwigluInput, Float32Array>({
  id: 'kernel-geglu-v1',
  equation: 'geglu',
  spec: 'out[i] = gelu_tanh(gate[i]) · up[i],  gelu_tanh(g) = ½g(1 + tanh(√(2/π)(g + 0.044715g³)))',
  pre: [['buffers hold length floats', ({ gate, up, length, out }) => length >= 0 && gate.length >= length && up.length >= length && out.length >= length]],
  post: [['finite output', ({ length }, out) => allFinite(out, length)]],
});

/** Gemma's MLP gate: GELU (tanh approximation) of the gate times the up projection (out may alias either). */
export function geglu(gate: Float32Array, up: Float32Array, length: number, out: Float32Array): Float32Array {
  return gegluContract.run({ gate, up, length, out }, () => {
    for (let i = 0; i < length; i++) out[i] = geluTanh(gate[i] as number) * (up[i] as number);
    return out;
  });
}

interface ScaleInput {
  x: Float32Array;
  length: number;
  s: number;
}

export const scaleContract = defineContract<ScaleInput, Float32Array>({
  id: 'kernel-scale-v1',
  equation: 'scale',
  spec: 'x[i] ← s · x[i] for i < length (one float32 rounding)',
  pre: [
    ['x holds length floats', ({ x, length }) => length >= 0 && x.length >= length],
    ['s finite', ({ s }) => Number.isFinite(s)],
  ],
  post: [['finite output', ({ length }, x) => allFinite(x, length)]],
});

/** Scales x in place (Gemma's √hidden embedding normaliser). */
export function scale(x: Float32Array, length: number, s: number): Float32Array {
  return scaleContract.run({ x, length, s }, () => {
    for (let i = 0; i < length; i++) x[i] = (x[i] as number) * s;
    return x;
  });
}

export const softcapContract = defineContract<ScaleInput, Float32Array>({
  id: 'kernel-softcap-v1',
  equation: 'softcap',
  spec: 'x[i] ← s · tanh(x[i] / s) for i < length, s > 0 (Gemma 2 logit soft-capping)',
  pre: [
    ['x holds length floats', ({ x, length }) => length >= 0 && x.length >= length],
    ['cap finite and > 0', ({ s }) => Number.isFinite(s) && s > 0],
  ],
  post: [['|x| < cap', ({ length, s }, x) => x.subarray(0, length).every((v) => Math.abs(v) <= s)]],
});

/** Soft-caps x in place: cap · tanh(x / cap), in float64 then rounded. */
export function softcap(x: Float32Array, length: number, cap: number): Float32Array {
  return softcapContract.run({ x, length, s: cap }, () => {
    for (let i = 0; i < length; i++) x[i] = cap * Math.tanh((x[i] as number) / cap);
    return x;
  });
}
