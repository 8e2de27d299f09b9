import { defineContract } from '../../contract/index.js';

/**
 * The parity gate's comparison of two logit vectors (the CPU's and a candidate backend's for the same
 * forward pass). Passes when cosine(cpu, cand) ≥ 0.9999 and max_i |cand_i − cpu_i| / max_i |cpu_i| ≤ 1e-3.
 *
 * Why 1e-3 relative to the largest logit: both backends compute in float32 and differ only by summation
 * order and exp/sqrt rounding, ≲ (k + 2)·u·Σ|terms| per k-term dot product (u = 2⁻²⁴). On tiny-coder-llama
 * the whole network measures 2.7e-6 (cosine 1 − 1e-12); error grows roughly with depth × √k, so a
 * 2048-wide, 22-layer model stays near 1e-5 — two decades under the bound. A wrong kernel moves logits by a
 * large fraction of their range: the planted faults of test/unit/webgpu-gate.test.ts measure 0.54 (RoPE
 * sign flip, cosine 0.969) and 1.28 (matmul dropping the last column, cosine 0.010) — over two decades
 * above it. The normalisation by the largest logit avoids dividing by logits near zero.
 */

export const PARITY_MIN_COSINE = 0.9999;
export const PARITY_MAX_REL_ERROR = 1e-3;

export interface ParityReport {
  readonly cosine: number;
  /** max_i |cand_i − cpu_i| / max_i |cpu_i|. */
  readonly maxRelError: number;
  readonly pass: boolean;
}

function measure(cpu: Float32Array, cand: Float32Array): ParityReport {
  let dot = 0;
  let nc = 0;
  let nd = 0;
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < cpu.length; i++) {
    const a = cpu[i] as number;
    const b = cand[i] as number;
    dot += a * b;
    nc += a * a;
    nd += b * b;
    maxAbs = Math.max(maxAbs, Math.abs(a));
    const d = Math.abs(a - b);
    maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
  }
  const cosine = nc > 0 && nd > 0 ? dot / Math.sqrt(nc * nd) : nc === nd ? 1 : 0;
  const maxRelError = maxAbs > 0 ? maxDiff / maxAbs : maxDiff;
  const pass = Number.isFinite(cosine) && cosine >= PARITY_MIN_COSINE && maxRelError <= PARITY_MAX_REL_ERROR;
  return { cosine, maxRelError, pass };
}

export const parityContract = defineContract<{ cpu: Float32Array; cand: Float32Array }, ParityReport>({
  id: 'webgpu-parity-gate-v1',
  equation: 'parity_gate',
  spec: 'pass ⇔ cos(cpu, cand) ≥ 0.9999 ∧ ‖cand − cpu‖∞ / ‖cpu‖∞ ≤ 1e-3',
  pre: [['same length, non-empty', ({ cpu, cand }) => cpu.length === cand.length && cpu.length > 0]],
  post: [['pass only within both bounds', (_i, r) => !r.pass || (r.cosine >= PARITY_MIN_COSINE && r.maxRelError <= PARITY_MAX_REL_ERROR)]],
});

/** Compares a candidate backend's logits with the CPU's under the gate's two bounds. */
export function compareLogits(cpu: Float32Array, cand: Float32Array): ParityReport {
  return parityContract.run({ cpu, cand }, () => measure(cpu, cand));
}
