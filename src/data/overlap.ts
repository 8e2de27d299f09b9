/**
 * The decontamination verdict for one row against one benchmark (contract data-decontaminate-v1).
 *
 * With G the row's distinct normalised n-grams and B the benchmark's n-gram set, shared = |G ∩ B| and
 * ratio = shared / |G| (0 when G is empty). The row is contaminated iff shared ≥ 1 and ratio ≥ threshold,
 * so threshold 0 flags a row that shares any single n-gram, and threshold 1 only a row all of whose
 * n-grams occur in the benchmark. A row shorter than n tokens has no n-grams and is never flagged.
 */
import { defineContract } from '../contract/index.js';

export interface Overlap {
  shared: number;
  total: number;
  ratio: number;
  contaminated: boolean;
}

export interface OverlapInput {
  /** Distinct n-gram keys of the row. */
  grams: readonly number[];
  /** The benchmark's n-grams (key → index of the first benchmark item holding it). */
  reference: ReadonlyMap<number, number>;
  threshold: number;
}

export const overlapContract = defineContract<OverlapInput, Overlap>({
  id: 'data-decontaminate-v1',
  equation: 'ngram_overlap',
  spec: 'shared = |G ∩ B|, ratio = shared/|G|; contaminated ⇔ shared ≥ 1 ∧ ratio ≥ threshold',
  pre: [['threshold in [0, 1]', ({ threshold }) => threshold >= 0 && threshold <= 1]],
  post: [
    ['0 ≤ shared ≤ total', ({ grams }, r) => r.shared >= 0 && r.shared <= r.total && r.total === grams.length],
    ['contaminated ⇔ shared ≥ 1 ∧ ratio ≥ threshold', ({ threshold }, r) => r.contaminated === (r.shared >= 1 && r.ratio >= threshold)],
  ],
});

/** The verdict of one row (see the header); `hits` receives the benchmark items whose n-grams were shared. */
export function rowOverlap(input: OverlapInput, hits?: Set<number>): Overlap {
  return overlapContract.run(input, () => {
    let shared = 0;
    for (const g of input.grams) {
      const item = input.reference.get(g);
      if (item === undefined) continue;
      shared++;
      hits?.add(item);
    }
    const total = input.grams.length;
    const ratio = total === 0 ? 0 : shared / total;
    return { shared, total, ratio, contaminated: shared >= 1 && ratio >= input.threshold };
  });
}
