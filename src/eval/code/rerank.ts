import type { VisibleOutcome } from '../sandbox/types.js';
import type { Reranker } from './types.js';

/** What a reranker may look at: never the hidden-test status. */
export interface RerankCandidate {
  meanLogprob: number | null;
  /** Visible-test outcomes; null when that stage did not complete (syntax error, crash, timeout). */
  visible: readonly VisibleOutcome[] | null;
}

/**
 * The highest mean log-probability (ties: the first); a candidate without one ranks last (a model gives none
 * for an empty completion). With none at all there is nothing to rank by: an error, never the first sample.
 */
function byLogprob(cands: readonly RerankCandidate[]): number {
  if (cands.every((c) => c.meanLogprob === null)) throw new RangeError('rerank logprob: no sample carries a mean log-probability');
  let best = 0;
  let bestLp = -Infinity;
  cands.forEach((c, i) => {
    const lp = c.meanLogprob ?? -Infinity;
    if (lp > bestLp) {
      bestLp = lp;
      best = i;
    }
  });
  return best;
}

/** The behaviour signature of a candidate on the visible tests (its outputs, or pass/fail where none). */
function signature(visible: readonly VisibleOutcome[]): string {
  return JSON.stringify(visible.map((v) => v.output ?? (v.passed ? '<pass>' : '<fail>')));
}

/**
 * Majority vote over execution outputs (as in AlphaCode's clustering and CodeT): the largest group of
 * candidates agreeing on every visible output wins; ties go to the group seen first; its first member is chosen.
 */
function byMajority(cands: readonly RerankCandidate[]): number {
  const groups = new Map<string, number[]>();
  cands.forEach((c, i) => {
    if (c.visible === null) return;
    const key = signature(c.visible);
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  let best: number[] | undefined;
  for (const g of groups.values()) if (!best || g.length > best.length) best = g;
  return best?.[0] ?? 0;
}

/** The first candidate passing every visible test; the first candidate when none does. */
function byExecution(cands: readonly RerankCandidate[]): number {
  const i = cands.findIndex((c) => c.visible !== null && c.visible.length > 0 && c.visible.every((v) => v.passed));
  return i < 0 ? 0 : i;
}

/** The index of the candidate a reranker picks (0 for `none`: the first sample, as plain pass@1 with n = 1). */
export function rerank(kind: Reranker, cands: readonly RerankCandidate[]): number {
  if (cands.length === 0) throw new RangeError('rerank: no candidates');
  switch (kind) {
    case 'none':
      return 0;
    case 'logprob':
      return byLogprob(cands);
    case 'majority':
      return byMajority(cands);
    case 'execution':
      return byExecution(cands);
  }
}
