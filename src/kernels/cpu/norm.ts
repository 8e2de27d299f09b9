import { allFinite } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';

interface RmsnormInput {
  x: Float32Array;
  weight: Float32Array;
  eps: number;
  n: number;
  dim: number;
  out: Float32Array;
}


export const rmsnormContract = defineContract<RmsnormInput, Float32Array>({
  id: 'kernel-rmsnorm-v1',
  equation: 'rmsnorm',
  spec: 'out[t, i] = weight[i] · (x[t, i] / sqrt(mean_j x[t, j]² + eps))',
  pre: [
    ['eps > 0', ({ eps }) => eps > 0],
    ['dim ≥ 1 and n ≥ 0', ({ n, dim }) => dim >= 1 && n >= 0],
    ['x and out hold n·dim floats', ({ x, out, n, dim }) => x.length >= n * dim && out.length >= n * dim],
    ['weight holds dim floats', ({ weight, dim }) => weight.length >= dim],
  ],
  post: [['finite output', ({ n, dim }, out) => allFinite(out, n * dim)]],
});

/** Hugging Face's LlamaRMSNorm: x · rsqrt(mean(x²) + eps), then times the weight (out may alias x). */
export function rmsnorm(x: Float32Array, weight: Float32Array, eps: number, n: number, dim: number, out: Float32Array): Float32Array {
  return rmsnormContract.run({ x, weight, eps, n, dim, out }, () => {
    for (let t = 0; t < n; t++) {
      const o = t * dim;
      let ss = 0;
      for (let i = 0; i < dim; i++) {
        const v = x[o + i] as number;
        ss += v * v;
      }
      const r = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = (weight[i] as number) * ((x[o + i] as number) * r);
    }
    return out;
  });
}
