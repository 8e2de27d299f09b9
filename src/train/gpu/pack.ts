import { IGNORE, nextTokenTargets } from '../losses/cross-entropy.js';
import type { StepReport } from '../types.js';

/**
 * Several examples packed back to back into the rows of one micro-batch, with what the GPU step needs per
 * row: its token, its position inside its example (RoPE restarts at 0), the first and one-past-last row of
 * its example (attention stays inside it), its next-token target and the weight of its loss term.
 *
 * The weights make the packed step's gradient the CPU loop's: there every example's loss is the mean over
 * its target tokens and the group's gradient is the mean over its examples (scaleGrads 1/E), so a target
 * row of an example with M targets weighs 1/(M·E).
 */
export interface PackedRows {
  readonly n: number;
  readonly ids: Uint32Array;
  readonly pos: Uint32Array;
  readonly seg: Uint32Array;
  readonly segEnd: Uint32Array;
  readonly targets: Int32Array;
  readonly rowWeight: Float32Array;
  /** Each example's first row, row count and number of target rows. */
  readonly examples: readonly { readonly start: number; readonly length: number; readonly targets: number }[];
}

/** One example as the step takes it: its tokens and loss mask (as TokenExample). */
export interface MaskedTokens {
  readonly tokens: ArrayLike<number>;
  readonly mask?: ArrayLike<number>;
}

/** Packs `examples` into one micro-batch of a group of `groupSize` examples (the 1/E of the weights). */
export function packExamples(examples: readonly MaskedTokens[], groupSize: number): PackedRows {
  if (!(groupSize >= examples.length && groupSize >= 1)) throw new RangeError(`packExamples: group size ${groupSize} < ${examples.length} examples`);
  const n = examples.reduce((s, e) => s + e.tokens.length, 0);
  const rows = {
    ids: new Uint32Array(n), pos: new Uint32Array(n), seg: new Uint32Array(n), segEnd: new Uint32Array(n),
    targets: new Int32Array(n).fill(IGNORE), rowWeight: new Float32Array(n),
  };
  const spans: { start: number; length: number; targets: number }[] = [];
  let start = 0;
  for (const e of examples) {
    const len = e.tokens.length;
    if (len < 1) throw new RangeError('packExamples: an example has no tokens');
    const t = nextTokenTargets(e.tokens, e.mask);
    let count = 0;
    for (const y of t) if (y !== IGNORE) count++;
    const w = count > 0 ? 1 / (count * groupSize) : 0;
    for (let p = 0; p < len; p++) {
      const r = start + p;
      rows.ids[r] = e.tokens[p] ?? 0;
      rows.pos[r] = p;
      rows.seg[r] = start;
      rows.segEnd[r] = start + len;
      rows.targets[r] = t[p] ?? IGNORE;
      rows.rowWeight[r] = t[p] === IGNORE ? 0 : w;
    }
    spans.push({ start, length: len, targets: count });
    start += len;
  }
  return { n, ...rows, examples: spans };
}

/** Per-example reports (mean next-token loss over its targets, weighted by their count) from per-row losses. */
export function exampleReports(p: PackedRows, rowLoss: Float32Array, offset = 0): StepReport[] {
  return p.examples.map((e) => {
    let sum = 0;
    for (let r = e.start; r < e.start + e.length; r++) sum += rowLoss[offset + r] ?? 0;
    return { loss: e.targets > 0 ? sum / e.targets : 0, weight: e.targets };
  });
}
