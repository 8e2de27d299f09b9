/**
 * A distillation run for the training loop: the student is trained on α·T²·KL(teacher ‖ student) + (1−α)·CE
 * over token windows. Teachers run without a tape; their softened distributions are cached up to a byte
 * budget, so later epochs skip the teacher forward for the cached windows.
 */
import { crossEntropy, nextTokenTargets } from '../losses/cross-entropy.js';
import { klDistillLoss, teacherDistribution } from '../losses/kl-distill.js';
import type { StepReport, TrainableModel, TrainingOptions, TrainingRun } from '../types.js';

export type DistillStrategy = 'standard' | 'progressive' | 'ensemble';

/**
 * `apr distill`'s defaults for the temperature T and the soft-term weight α, chosen by the bench/distill.ts
 * sweep (issue 18): the former T = 3, α = 0.7 left a pretrained student worse than plain cross-entropy
 * training (held-out perplexity 16.92 vs 16.48); T = 1, α = 0.9 beats plain training for a fresh and for a
 * pretrained student (16.19 there).
 */
export const DISTILL_DEFAULTS = { temperature: 1, alpha: 0.9 } as const;

/** Anything that gives the logits of every position of a sequence ([n, vocab]). */
export interface LogitsSource {
  logitsAll(tokens: ArrayLike<number>): Float32Array;
}

export interface DistillSettings {
  readonly strategy: DistillStrategy;
  readonly temperature: number;
  readonly alpha: number;
  /** Bytes of teacher distributions kept between epochs (default 512 MB). */
  readonly cacheBytes?: number;
}

/** Teacher distributions per window, cached by identity of the token array. */
class TeacherCache {
  private readonly cache = new Map<ArrayLike<number>, Float32Array>();
  private bytes = 0;
  constructor(private readonly teachers: readonly LogitsSource[], private readonly vocab: number, private readonly temperature: number, private readonly budget: number) {}

  probs(tokens: ArrayLike<number>): Float32Array {
    return this.cache.get(tokens) ?? this.fill(tokens).probs;
  }

  /** The first teacher's next-token cross-entropy on `tokens` (its masked targets); caches the distribution on the way. */
  loss(tokens: ArrayLike<number>, mask?: ArrayLike<number>): number {
    const { logits } = this.fill(tokens);
    return crossEntropy({ logits, targets: nextTokenTargets(tokens, mask), vocab: this.vocab }).loss;
  }

  private fill(tokens: ArrayLike<number>): { probs: Float32Array; logits: Float32Array } {
    const all = this.teachers.map((t) => t.logitsAll(tokens));
    const probs = teacherDistribution(all, this.vocab, this.temperature);
    if (!this.cache.has(tokens) && this.bytes + probs.byteLength <= this.budget) {
      this.cache.set(tokens, probs);
      this.bytes += probs.byteLength;
    }
    return { probs, logits: all[0] ?? new Float32Array(0) };
  }
}

/** Indices of `windows` from easy to hard by the teacher's loss (ties keep their order). */
export function curriculumOrder(losses: readonly number[]): number[] {
  return losses.map((l, i) => [l, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
}

export interface DistillRunInput {
  readonly student: TrainableModel;
  /** One teacher, or several for `ensemble` (their softened distributions are averaged). */
  readonly teachers: readonly LogitsSource[];
  readonly train: readonly ArrayLike<number>[];
  readonly val: readonly ArrayLike<number>[];
  readonly settings: DistillSettings;
  readonly options: TrainingOptions;
  /** For `progressive`: the train windows' indices from easy to hard; default by the first teacher's loss. */
  readonly curriculum?: readonly number[];
  /**
   * Loss masks of windows (by identity; TokenExample.mask: mask[i] = 1 when tokens[i] is a target), e.g. the
   * assistant tokens of chat data. A window without one is scored at every position.
   */
  readonly masks?: ReadonlyMap<ArrayLike<number>, ArrayLike<number>>;
}

function studentCe(logits: Float32Array, tokens: ArrayLike<number>, vocab: number, mask?: ArrayLike<number>): number {
  return crossEntropy({ logits, targets: nextTokenTargets(tokens, mask), vocab }).loss;
}

/** Positions that predict a target (n − 1 without a mask). */
function targetCount(tokens: ArrayLike<number>, mask: ArrayLike<number> | undefined): number {
  if (mask === undefined) return tokens.length - 1;
  let k = 0;
  for (let i = 1; i < tokens.length; i++) if (mask[i] !== 0) k++;
  return k;
}

/** Token-weighted mean next-token cross-entropy of windows scored by their logits ([n, vocab] each); exp of it is the perplexity. */
export function meanCrossEntropy(scored: readonly { logits: Float32Array; tokens: ArrayLike<number> }[], vocab: number): number {
  let sum = 0, count = 0;
  for (const { logits, tokens } of scored) {
    const n = tokens.length - 1;
    if (n < 1) continue;
    sum += studentCe(logits, tokens, vocab) * n;
    count += n;
  }
  return count > 0 ? sum / count : Number.NaN;
}

/**
 * The TrainingRun of a distillation. Train loss is the distillation loss (metrics `kl`, `ce`); the train
 * perplexity is exp of the student's own next-token cross-entropy (`nll`), never of the mixed loss; validation
 * loss is the student's plain next-token cross-entropy, so its perplexity compares with any other training
 * (val metric `kl`). With α = 0 no teacher is run. `progressive`: the loop shuffles, so the i-th step of every
 * epoch takes the i-th easiest window instead of the window the loop drew (the loop calls `step` exactly
 * once per train window per epoch).
 */
export function distillRun(input: DistillRunInput): TrainingRun<ArrayLike<number>> {
  const { student, settings, train } = input;
  const V = student.config.vocab_size;
  const cache = new TeacherCache(input.teachers, V, settings.temperature, settings.cacheBytes ?? 512 << 20);
  const lossOpts = { vocab: V, temperature: settings.temperature, alpha: settings.alpha };
  const maskOf = (w: ArrayLike<number>): ArrayLike<number> | undefined => input.masks?.get(w);
  const order = settings.strategy === 'progressive' ? (input.curriculum ?? curriculumOrder(train.map((w) => cache.loss(w, maskOf(w))))) : undefined;
  let cursor = 0;
  const pick = (drawn: ArrayLike<number>): ArrayLike<number> => {
    if (!order) return drawn;
    const w = train[order[cursor % order.length] ?? 0] ?? drawn;
    cursor++;
    return w;
  };
  return {
    params: student.parameters(),
    train,
    val: input.val,
    options: input.options,
    zeroGrad: () => student.zeroGrad(),
    step(drawn): StepReport {
      const tokens = pick(drawn);
      const mask = maskOf(tokens);
      const fwd = student.forward(tokens);
      if (settings.alpha === 0) {
        const r = crossEntropy({ logits: fwd.logits, targets: nextTokenTargets(tokens, mask), vocab: V });
        fwd.backward(r.dLogits);
        return { loss: r.loss, weight: targetCount(tokens, mask), metrics: { ce: r.loss } };
      }
      const r = klDistillLoss(fwd.logits, cache.probs(tokens), tokens, lossOpts, mask);
      fwd.backward(r.dLogits);
      return { loss: r.loss, weight: r.tokens, nll: r.ce, metrics: { kl: r.kl, ce: r.ce } };
    },
    evaluate(tokens): StepReport {
      const logits = student.logits(tokens);
      const mask = maskOf(tokens);
      if (settings.alpha === 0) return { loss: studentCe(logits, tokens, V, mask), weight: targetCount(tokens, mask) };
      const r = klDistillLoss(logits, cache.probs(tokens), tokens, lossOpts, mask);
      return { loss: r.ce, weight: r.tokens, metrics: { kl: r.kl } };
    },
  };
}
