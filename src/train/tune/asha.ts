/**
 * Asynchronous successive halving (ASHA, Li et al. 2020) over training epochs, in the form Optuna's
 * SuccessiveHalvingPruner uses for trials that run one after another: rungs at minResource·η^k epochs; a
 * trial reaching a rung records its held-out loss there and goes on only while that loss is among the best
 * ⌊n/η⌋ of the n recorded at the rung (the best one while n < η), else it is stopped early.
 */
export interface AshaOptions {
  /** Reduction factor η ≥ 2. */
  readonly eta: number;
  /** Epochs at the first rung. */
  readonly minResource: number;
}

export class Asha {
  private readonly rungs = new Map<number, number[]>();

  constructor(private readonly o: AshaOptions) {
    if (!(Number.isInteger(o.eta) && o.eta >= 2) || !(Number.isInteger(o.minResource) && o.minResource >= 1)) {
      throw new Error(`ASHA needs an integer η ≥ 2 and minimum resource ≥ 1, got η=${o.eta}, r=${o.minResource}`);
    }
  }

  /** The rung index of `resource` epochs, or undefined when it is not a rung. */
  rungOf(resource: number): number | undefined {
    let r = this.o.minResource;
    for (let k = 0; r <= resource; k++, r *= this.o.eta) if (r === resource) return k;
    return undefined;
  }

  /** Records `value` (lower is better) after `resource` epochs; false = stop the trial now. */
  report(resource: number, value: number): boolean {
    const k = this.rungOf(resource);
    if (k === undefined) return true;
    const values = this.rungs.get(k) ?? [];
    values.push(Number.isFinite(value) ? value : Infinity);
    this.rungs.set(k, values);
    const sorted = [...values].sort((a, b) => a - b);
    const idx = Math.max(0, Math.floor(sorted.length / this.o.eta) - 1);
    return Number.isFinite(value) && value <= (sorted[idx] ?? Infinity);
  }

  /** The values recorded at each rung so far (rung index → values, in arrival order). */
  snapshot(): Record<number, number[]> {
    return Object.fromEntries([...this.rungs].map(([k, v]) => [k, [...v]]));
  }
}
