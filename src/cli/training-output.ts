import type { EpochRecord } from '../train/types.js';
import { CliError, type Progress, progress } from './output.js';

/** Printing shared by the training commands (finetune, distill, align). */

/** A number with fixed digits, or '-' when absent or not finite. */
export const num = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

/** Throws a usage error (exit 2) unless `ok`. */
export function usage(ok: boolean, message: string): void {
  if (!ok) throw new CliError(message);
}

/** Per-epoch table rows printed as each epoch ends (columns fixed so rows line up without buffering). */
export class EpochTable {
  private printed = false;
  /**
   * `extra`: [header, metric key] pairs; a key `val:<k>` reads the held-out metric. `pplKey`: the metric whose
   * exp is the perplexity column (the loss itself is not a log-perplexity for distillation or preference
   * losses); null prints no perplexity; undefined takes the loop's exp(loss).
   */
  constructor(private readonly extra: readonly (readonly [string, string])[], private readonly quiet: boolean, private readonly pplKey?: { train: string; val?: string } | null) {}

  private ppl(r: EpochRecord): [string, string] {
    if (this.pplKey === undefined) return [num(r.trainPpl, 2), num(r.valPpl, 2)];
    if (this.pplKey === null) return ['-', '-'];
    const { train, val } = this.pplKey;
    const v = val === undefined ? r.valPpl : r.valMetrics[val] === undefined ? null : Math.exp(r.valMetrics[val] ?? NaN);
    return [num(Math.exp(r.metrics[train] ?? NaN), 2), num(v, 2)];
  }

  private line(cells: readonly string[]): string {
    return cells.map((c, i) => c.padStart(i === 0 ? 5 : 12)).join(' ');
  }

  row(r: EpochRecord): void {
    if (this.quiet) return;
    if (!this.printed) {
      const head = ['epoch', 'train loss', 'val loss', 'train ppl', 'val ppl', 'lr', 'time s', ...this.extra.map(([h]) => h)];
      process.stdout.write(`${this.line(head)}\n`);
      this.printed = true;
    }
    const extras = this.extra.map(([, k]) => num(k.startsWith('val:') ? r.valMetrics[k.slice(4)] : r.metrics[k]));
    const [trainPpl, valPpl] = this.ppl(r);
    process.stdout.write(`${this.line([String(r.epoch), num(r.trainLoss), num(r.valLoss), trainPpl, valPpl, r.lr.toExponential(2), r.seconds.toFixed(1), ...extras])}\n`);
  }
}

/** A progress bar over optimizer steps, created on the first report. */
export function stepProgress(label: string, quiet: boolean): { onProgress: (done: number, total: number) => void; stop: () => void } {
  let bar: Progress | undefined;
  return {
    onProgress: (done, total) => {
      bar ??= progress(label, total, quiet);
      bar.tick();
      if (done === total) bar.stop();
    },
    stop: () => bar?.stop(),
  };
}

