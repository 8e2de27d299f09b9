/**
 * Online choice of how many draft tokens a speculative round verifies (0..k). A round that verifies m
 * proposals yields E[m] = (1 − α^(m+1)) / (1 − α) tokens (α: the measured per-token acceptance) and costs
 * V(m+1) + m·D (V(n): measured ms of a target pass over n rows, D: ms of one draft pass; m = 0 skips the
 * draft, which catches up later in one batched pass). The tuner picks the m with the most tokens per ms.
 * Batched passes are far from free on a CPU (five rows cost about three one-row passes here), so the best m
 * is often below k. Unmeasured V(n) are assumed equal to V(1), so larger m are tried before being ruled out.
 * Timing makes the choice vary between runs, so it is used only where the output cannot depend on it
 * (greedy decoding).
 */
export class DraftTuner {
  private readonly verifyMs: number[];
  private draftMs = 0;
  private drafted = 1;
  private accepted = 0.7;
  private rounds = 0;

  constructor(private readonly k: number) {
    this.verifyMs = new Array<number>(k + 2).fill(0);
  }

  /** Adds one measurement to an exponential moving average (the first one taken as is). */
  private static ema(old: number, x: number): number {
    return old > 0 ? 0.8 * old + 0.2 * x : x;
  }

  recordVerify(rows: number, ms: number): void {
    if (rows < this.verifyMs.length) this.verifyMs[rows] = DraftTuner.ema(this.verifyMs[rows] ?? 0, ms);
  }

  recordDraft(passes: number, ms: number): void {
    if (passes > 0) this.draftMs = DraftTuner.ema(this.draftMs, ms / passes);
  }

  /** Per-token acceptance, as a decayed ratio (so it follows the text). */
  recordAcceptance(drafted: number, accepted: number): void {
    this.drafted = 0.95 * this.drafted + drafted;
    this.accepted = 0.95 * this.accepted + accepted;
  }

  /** The number of proposals with the most expected tokens per ms (every 8th round at least one, to keep α fresh). */
  choose(): number {
    const one = this.verifyMs[1] ?? 0;
    this.rounds++;
    if (one <= 0) return 0; // measure a one-row pass first (a plain decoding step)
    return Math.max(this.best(one), this.rounds % 8 === 0 ? 1 : 0);
  }

  private best(one: number): number {
    const a = Math.min(this.accepted / this.drafted, 0.999);
    let best = 0;
    let bestRate = 0;
    for (let m = 0; m <= this.k; m++) {
      const v = this.verifyMs[m + 1] || one;
      const rate = (1 - a ** (m + 1)) / (1 - a) / (v + m * this.draftMs);
      if (rate > bestRate) {
        bestRate = rate;
        best = m;
      }
    }
    return best;
  }
}
