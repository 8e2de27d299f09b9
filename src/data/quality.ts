/**
 * `apr data quality`: a 100-point score per row, and the dataset's score as the mean over rows.
 *
 * Rubric (points per row; "prompt" and "response" as in fields.ts, and for a `text` row both are the text):
 *   20  prompt      the prompt is non-empty (after trimming)
 *   20  response    the response has at least 10 characters (after trimming)
 *   15  unique      the normalised prompt was not seen in an earlier row
 *   15  distinct    the response is not the prompt again (normalised; always awarded to text rows)
 *   10  length      prompt ≤ 8192 and response ≤ 32768 characters
 *   10  clean       no U+FFFD and no control characters other than tab, newline and carriage return
 *   10  boilerplate none of: "as an ai language model", "i cannot help with", "lorem ipsum",
 *                   "traceback (most recent call last)" (case-insensitive)
 * A row without text fields scores 0. The dataset passes when its mean is ≥ --min-score (default 80).
 * Memory: one 53-bit prompt key per row in a KeyTable (≤ 40 bytes a row).
 */
import { type RowText, rowText } from './fields.js';
import { KeyTable, textKey } from './hash.js';
import { BadLineCounter, type ReadOptions, readJsonl, withWriters } from './jsonl.js';

const RUBRIC = [
  ['prompt', 20],
  ['response', 20],
  ['unique', 15],
  ['distinct', 15],
  ['length', 10],
  ['clean', 10],
  ['boilerplate', 10],
] as const;

type Criterion = (typeof RUBRIC)[number][0];

const BOILERPLATE = ['as an ai language model', 'i cannot help with', 'lorem ipsum', 'traceback (most recent call last)'];
// eslint-disable-next-line no-control-regex -- the quality rubric penalises raw control characters in a row; this regex finds them
const UNCLEAN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

export interface QualityOptions extends ReadOptions {
  data: string;
  minScore: number;
  /** Writes the rows scoring ≥ minScore. */
  output?: string;
}

export interface QualityReport {
  data_path: string;
  rubric: Record<Criterion, number>;
  total_rows: number;
  bad_lines: number;
  score: number;
  min_score: number;
  passed: boolean;
  rows_below_min: number;
  /** Rows that earned each criterion. */
  criteria: Record<Criterion, number>;
  output: string | null;
}

/** The criteria a row meets (`seen` holds the prompts of earlier rows and receives this one's). */
function rowCriteria(t: RowText, seen: KeyTable): Set<Criterion> {
  const met = new Set<Criterion>();
  if (t.kind === 'none') return met;
  const isText = t.kind === 'text';
  const prompt = isText ? (t.parts[0] ?? '') : t.prompt;
  const response = isText ? prompt : t.response;
  const all = `${prompt}\n${response}`;
  const promptKey = textKey(prompt);
  if (prompt.trim() !== '') met.add('prompt');
  if (response.trim().length >= 10) met.add('response');
  if (seen.add(promptKey)) met.add('unique');
  if (isText || textKey(response) !== promptKey) met.add('distinct');
  if (prompt.length <= 8192 && response.length <= 32768) met.add('length');
  if (!UNCLEAN.test(all)) met.add('clean');
  const lower = all.toLowerCase();
  if (!BOILERPLATE.some((b) => lower.includes(b))) met.add('boilerplate');
  return met;
}

function scoreOf(met: ReadonlySet<Criterion>): number {
  return RUBRIC.reduce((s, [c, points]) => s + (met.has(c) ? points : 0), 0);
}

const zeroCriteria = (): Record<Criterion, number> => Object.fromEntries(RUBRIC.map(([c]) => [c, 0])) as Record<Criterion, number>;

export async function qualityData(o: QualityOptions): Promise<QualityReport> {
  const seen = new KeyTable();
  const bad = new BadLineCounter();
  const criteria = zeroCriteria();
  let rows = 0;
  let total = 0;
  let below = 0;
  await withWriters([o.output], async ([out]) => {
    for await (const row of readJsonl(o.data, o, bad)) {
      const met = rowCriteria(rowText(row.value), seen);
      for (const c of met) criteria[c]++;
      const score = scoreOf(met);
      rows++;
      total += score;
      if (score < o.minScore) below++;
      else out?.writeLine(row.raw);
    }
  });
  const score = rows === 0 ? 0 : total / rows;
  return {
    data_path: o.data, rubric: Object.fromEntries(RUBRIC) as Record<Criterion, number>, total_rows: rows, bad_lines: bad.count,
    score: Math.round(score * 100) / 100, min_score: o.minScore, passed: rows > 0 && score >= o.minScore, rows_below_min: below, criteria, output: o.output ?? null,
  };
}
