/** Where a step sits in the learning-rate schedule. */
export interface ScheduleOptions {
  /** Peak learning rate. */
  readonly lr: number;
  readonly totalSteps: number;
  /** Fraction of `totalSteps` spent warming up (warmup steps = ⌈ratio · total⌉, as in transformers). */
  readonly warmupRatio: number;
  /** The cosine decays to `minLrRatio` · lr. */
  readonly minLrRatio: number;
}

export function warmupSteps(o: ScheduleOptions): number {
  return Math.ceil(o.warmupRatio * o.totalSteps);
}

/**
 * transformers' get_cosine_schedule_with_warmup with a floor: step s (0-based) gets
 *   lr · s / W                                    for s < W (linear warmup from 0),
 *   lr · (ρ + (1−ρ) · ½(1 + cos(π · (s−W)/(T−W))))  after, with ρ = minLrRatio.
 */
export function cosineLr(step: number, o: ScheduleOptions): number {
  const w = warmupSteps(o);
  if (step < w) return (o.lr * step) / Math.max(1, w);
  const progress = Math.min(1, (step - w) / Math.max(1, o.totalSteps - w));
  const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
  return o.lr * (o.minLrRatio + (1 - o.minLrRatio) * cosine);
}
