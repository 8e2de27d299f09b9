import type { TensorRef } from '../../tensor/store.js';
import type { CheckContext } from './context.js';
import { checkShape, forEachChunk } from './tensors.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

interface RowScan {
  zero: Uint8Array;
  nonFinite: number;
  firstBad: [number, number] | undefined;
  min: number;
  max: number;
}

/** One streaming pass over a [rows, cols] matrix: all-zero rows, non-finite values, range. */
function scanRows(ref: TensorRef, rows: number, cols: number): RowScan {
  const s: RowScan = { zero: new Uint8Array(rows).fill(1), nonFinite: 0, firstBad: undefined, min: Infinity, max: -Infinity };
  forEachChunk(ref, (v, first) => {
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as number;
      const at = first + i;
      if (!Number.isFinite(x)) {
        if (s.nonFinite++ === 0) s.firstBad = [Math.floor(at / cols), at % cols];
        s.zero[Math.floor(at / cols)] = 0;
        continue;
      }
      if (x !== 0) s.zero[Math.floor(at / cols)] = 0;
      if (x < s.min) s.min = x;
      if (x > s.max) s.max = x;
    }
  });
  return s;
}

/** "3, 10–73" from sorted row numbers. */
function ranges(rows: readonly number[], limit = 4): string {
  const out: string[] = [];
  for (let i = 0; i < rows.length && out.length < limit; ) {
    let j = i;
    while (j + 1 < rows.length && rows[j + 1] === (rows[j] as number) + 1) j++;
    out.push(i === j ? `${rows[i]}` : `${rows[i]}–${rows[j]}`);
    i = j + 1;
  }
  return out.join(', ') + (out.length === limit ? ', …' : '');
}

/**
 * Untrained reserved tokens may legitimately have zero rows, so special tokens and padding rows past the
 * tokenizer are not counted; beyond max(2, 0.1 % of the rows) the rows have collapsed.
 */
function zeroRowThreshold(rows: number): number {
  return Math.max(2, Math.ceil(rows * 0.001));
}

function ordinaryRows(ctx: CheckContext): (row: number) => boolean {
  try {
    const tok = ctx.tokenizer();
    const special = new Set(tok.specialTokens.values());
    return (r) => r < tok.vocabSize && !special.has(r);
  } catch {
    return () => true;
  }
}

function checkMatrix(ctx: CheckContext, ref: TensorRef, f: Findings): void {
  const [rows = 0, cols = 0] = ref.shape;
  let s: RowScan;
  try {
    s = scanRows(ref, rows, cols);
  } catch (err) {
    f.warn(`${ref.name}: not scanned (${errorMessage(err)})`);
    return;
  }
  if (s.nonFinite > 0 && s.firstBad) f.fail(`${ref.name}: ${s.nonFinite} non-finite values (first at row ${s.firstBad[0]}, column ${s.firstBad[1]})`);
  const ordinary = ordinaryRows(ctx);
  const zeroRows: number[] = [];
  for (let r = 0; r < rows; r++) if (s.zero[r] === 1 && ordinary(r)) zeroRows.push(r);
  const limit = zeroRowThreshold(rows);
  if (zeroRows.length > limit) f.fail(`${ref.name}: ${zeroRows.length} all-zero rows (${ranges(zeroRows)}), more than ${limit}: collapsed embedding`);
  else if (zeroRows.length > 0) f.note(`${ref.name}: ${zeroRows.length} all-zero row(s) (${ranges(zeroRows)})`);
  if (s.min === s.max) f.fail(`${ref.name}: every value is ${s.min}`);
  f.note(`${ref.name} [${rows}, ${cols}] finite in [${s.min.toPrecision(3)}, ${s.max.toPrecision(3)}]`);
}

export const embeddingStage: Stage = {
  id: 5,
  name: 'embedding & LM head',
  run(ctx): StageOutcome {
    const f = new Findings();
    const { config: c, tensors } = ctx.bundle();
    const fail = (m: string): void => f.fail(m);
    const embed = checkShape(tensors, 'model.embed_tokens.weight', [c.vocab_size, c.hidden_size], fail, ' (vocab_size × hidden_size)');
    const head = tensors.get('lm_head.weight');
    let checkedHead: TensorRef | undefined;
    if (c.tie_word_embeddings) {
      if (head) f.warn('lm_head.weight is present although tie_word_embeddings is true (the stored head is used)');
      else f.note('LM head tied to the embedding');
    } else if (!head) {
      f.fail('lm_head.weight: missing, and tie_word_embeddings is false');
    } else {
      checkedHead = checkShape(tensors, 'lm_head.weight', [c.vocab_size, c.hidden_size], fail);
    }
    if (embed) checkMatrix(ctx, embed, f);
    if (checkedHead) checkMatrix(ctx, checkedHead, f);
    return f.outcome();
  },
};
