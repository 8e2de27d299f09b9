import type { ActivationObserver, ActivationSite } from '../../model/decoder.js';
import { loadModel } from '../../model/load.js';
import type { ModelBundle } from '../../tensor/bundle.js';

export interface StatsNeeds {
  /** Σ x_j² per input channel of every projection (Wanda, structured scores). */
  norms: boolean;
  /** Σ x xᵀ per projection input (SparseGPT). */
  hessians: boolean;
  /** Mean cosine between the residual stream entering and leaving each layer (depth pruning). */
  blockInfluence: boolean;
}

const key = (layer: number, site: ActivationSite): string => `${layer}:${site}`;

/** Calibration statistics of a model's activations, accumulated in float64 over every calibration token. */
export class ActivationStats {
  readonly sumSq = new Map<string, Float64Array>();
  /** Lower triangles (row-major, full d×d storage) until `finish()` mirrors them. */
  readonly hessian = new Map<string, Float64Array>();
  readonly dims = new Map<string, number>();
  tokens = 0;
  private readonly cosSum: Float64Array;
  private readonly cosCount: Float64Array;
  private prev: { layer: number; rows: Float32Array } | undefined;

  constructor(
    readonly numLayers: number,
    private readonly needs: StatsNeeds,
  ) {
    this.cosSum = new Float64Array(numLayers);
    this.cosCount = new Float64Array(numLayers);
  }

  readonly observer: ActivationObserver = (layer, site, rows, n, dim) => {
    if (site === 'residual') {
      if (this.needs.blockInfluence) this.residual(layer, rows, n, dim);
      if (layer === 0) this.tokens += n;
      return;
    }
    const k = key(layer, site);
    this.dims.set(k, dim);
    if (this.needs.norms) this.addSumSq(k, rows, n, dim);
    if (this.needs.hessians) this.addOuter(k, rows, n, dim);
  };

  private addSumSq(k: string, rows: Float32Array, n: number, dim: number): void {
    let acc = this.sumSq.get(k);
    if (!acc) this.sumSq.set(k, (acc = new Float64Array(dim)));
    for (let r = 0; r < n; r++) {
      const o = r * dim;
      for (let j = 0; j < dim; j++) acc[j] = (acc[j] as number) + (rows[o + j] as number) ** 2;
    }
  }

  /** H += Xᵀ X over the lower triangle, with X transposed first so the inner loop runs over tokens. */
  private addOuter(k: string, rows: Float32Array, n: number, dim: number): void {
    let h = this.hessian.get(k);
    if (!h) this.hessian.set(k, (h = new Float64Array(dim * dim)));
    const xt = new Float64Array(dim * n);
    for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) xt[j * n + r] = rows[r * dim + j] as number;
    for (let i = 0; i < dim; i++) {
      const oi = i * n;
      for (let j = 0; j <= i; j++) {
        const oj = j * n;
        let s = 0;
        for (let r = 0; r < n; r++) s += (xt[oi + r] as number) * (xt[oj + r] as number);
        h[i * dim + j] = (h[i * dim + j] as number) + s;
      }
    }
  }

  private residual(layer: number, rows: Float32Array, n: number, dim: number): void {
    const prev = this.prev;
    if (prev && prev.layer === layer - 1 && prev.rows.length === n * dim) {
      for (let r = 0; r < n; r++) {
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let j = 0; j < dim; j++) {
          const a = prev.rows[r * dim + j] as number;
          const b = rows[r * dim + j] as number;
          dot += a * b;
          na += a * a;
          nb += b * b;
        }
        this.cosSum[layer - 1] = (this.cosSum[layer - 1] as number) + dot / Math.max(Math.sqrt(na * nb), 1e-30);
        this.cosCount[layer - 1] = (this.cosCount[layer - 1] as number) + 1;
      }
    }
    this.prev = { layer, rows: Float32Array.from(rows) };
  }

  /** Mirrors the Hessians' lower triangles into full symmetric matrices. */
  finish(): this {
    for (const [k, h] of this.hessian) {
      const d = this.dims.get(k) ?? 0;
      for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) h[j * d + i] = h[i * d + j] as number;
    }
    this.prev = undefined;
    return this;
  }

  /** ‖X_j‖₂ over the calibration tokens for each input channel j of a projection's input. */
  columnNorms(layer: number, site: ActivationSite): Float64Array | undefined {
    const s = this.sumSq.get(key(layer, site));
    return s ? s.map(Math.sqrt) : undefined;
  }

  hessianOf(layer: number, site: ActivationSite): Float64Array | undefined {
    return this.hessian.get(key(layer, site));
  }

  /** ShortGPT's block influence BI_l = 1 − E[cos(x_l, x_{l+1})] per layer. */
  blockInfluence(): number[] {
    return Array.from(this.cosSum, (s, l) => 1 - s / Math.max(this.cosCount[l] as number, 1));
  }
}

/** Runs the model over the calibration samples (weights loaded from `bundle`) and returns the statistics. */
export function collectStats(bundle: ModelBundle, samples: readonly number[][], needs: StatsNeeds, onSample?: (done: number, total: number) => void): ActivationStats {
  const stats = new ActivationStats(bundle.config.num_layers, needs);
  const model = loadModel(bundle, { observer: stats.observer });
  const longest = Math.max(...samples.map((s) => s.length));
  const cache = model.createCache(longest);
  samples.forEach((ids, i) => {
    model.forward(ids, 0, cache);
    onSample?.(i + 1, samples.length);
  });
  return stats.finish();
}
