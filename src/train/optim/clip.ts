import type { TrainParam } from '../types.js';

/** ‖g‖₂ over every parameter's gradient together (accumulated in float64). */
export function globalGradNorm(params: readonly TrainParam[]): number {
  let ss = 0;
  for (const p of params) for (let i = 0; i < p.grad.length; i++) ss += (p.grad[i] ?? 0) ** 2;
  return Math.sqrt(ss);
}

/** Multiplies every gradient by `factor`. */
export function scaleGrads(params: readonly TrainParam[], factor: number): void {
  for (const p of params) for (let i = 0; i < p.grad.length; i++) p.grad[i] = (p.grad[i] ?? 0) * factor;
}

/**
 * torch.nn.utils.clip_grad_norm_: when the global norm exceeds `maxNorm` (> 0), every gradient is scaled
 * by maxNorm / (norm + 1e-6). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly TrainParam[], maxNorm: number): number {
  const norm = globalGradNorm(params);
  if (maxNorm > 0 && norm > maxNorm) scaleGrads(params, maxNorm / (norm + 1e-6));
  return norm;
}
