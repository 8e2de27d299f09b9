import type { TrainParam } from '../types.js';

export interface AdamWOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  /** Decoupled weight decay λ: p ← p − lr·λ·p before the Adam update (Loshchilov & Hutter). */
  readonly weightDecay?: number;
  /** Whether a parameter is decayed; default: matrices only (norm weights and biases are not, as in HF's Trainer). */
  readonly decays?: (p: TrainParam) => boolean;
}

/** The optimizer's state: first and second moments per parameter (same order) and the step count. */
export interface AdamWState {
  step: number;
  readonly m: readonly Float32Array[];
  readonly v: readonly Float32Array[];
}

const matricesOnly = (p: TrainParam): boolean => p.shape.length >= 2;

/**
 * AdamW as torch.optim.AdamW computes it (float32 moments, bias correction, eps outside the square root):
 *   p ← p·(1 − lr·λ);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly state: AdamWState;
  private readonly decayed: readonly boolean[];

  constructor(
    readonly params: readonly TrainParam[],
    opts: AdamWOptions = {},
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    const decays = opts.decays ?? matricesOnly;
    this.decayed = params.map(decays);
    this.state = { step: 0, m: params.map((p) => new Float32Array(p.data.length)), v: params.map((p) => new Float32Array(p.data.length)) };
  }

  /** One update with learning rate `lr` from the parameters' current `grad`. */
  step(lr: number): void {
    const t = ++this.state.step;
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    this.params.forEach((p, i) => {
      const decay = this.decayed[i] === true ? lr * this.weightDecay : 0;
      this.update(p, this.state.m[i] ?? new Float32Array(0), this.state.v[i] ?? new Float32Array(0), { lr, decay, bc1, bc2 });
    });
  }

  private update(p: TrainParam, m: Float32Array, v: Float32Array, k: { lr: number; decay: number; bc1: number; bc2: number }): void {
    const { beta1, beta2, eps } = this;
    const { data, grad } = p;
    const sqrtBc2 = Math.sqrt(k.bc2);
    const stepSize = k.lr / k.bc1;
    for (let j = 0; j < data.length; j++) {
      const g = grad[j] ?? 0;
      const mj = beta1 * (m[j] ?? 0) + (1 - beta1) * g;
      const vj = beta2 * (v[j] ?? 0) + (1 - beta2) * g * g;
      m[j] = mj;
      v[j] = vj;
      const decayed = (data[j] ?? 0) * (1 - k.decay);
      data[j] = decayed - (stepSize * (m[j] ?? 0)) / (Math.sqrt(v[j] ?? 0) / sqrtBc2 + eps);
    }
  }
}
