/**
 * `apr data audit`: one streaming pass of counts — rows, bad lines, rows per text kind (fields.ts), rows
 * with empty text fields (per field), character lengths (min / mean / max of prompt, response and whole
 * text), exact duplicate rows (same normalised text) and duplicate prompts. Memory: two 53-bit keys per row
 * in KeyTables (≤ 80 bytes a row).
 */
import { type RowKind, type RowText, fullText, rowText } from './fields.js';
import { KeyTable, textKey } from './hash.js';
import { BadLineCounter, type ReadOptions, readJsonl } from './jsonl.js';

export interface LengthStats {
  min: number;
  mean: number;
  max: number;
  rows: number;
}

export interface AuditReport {
  data_path: string;
  total_rows: number;
  bad_lines: number;
  kinds: Record<RowKind, number>;
  empty_fields: Record<string, number>;
  rows_with_empty_fields: number;
  lengths: { prompt: LengthStats; response: LengthStats; text: LengthStats };
  duplicate_rows: number;
  duplicate_prompts: number;
}

class Lengths {
  private min = Infinity;
  private max = 0;
  private sum = 0;
  private rows = 0;

  add(n: number): void {
    this.min = Math.min(this.min, n);
    this.max = Math.max(this.max, n);
    this.sum += n;
    this.rows++;
  }

  stats(): LengthStats {
    return { min: this.rows === 0 ? 0 : this.min, mean: this.rows === 0 ? 0 : Math.round((this.sum / this.rows) * 10) / 10, max: this.max, rows: this.rows };
  }
}

class Auditor {
  readonly kinds: Record<RowKind, number> = { messages: 0, instruction: 0, prompt: 0, text: 0, none: 0 };
  readonly empty: Record<string, number> = {};
  readonly lengths = { prompt: new Lengths(), response: new Lengths(), text: new Lengths() };
  readonly rowKeys = new KeyTable();
  readonly promptKeys = new KeyTable();
  rows = 0;
  emptyRows = 0;
  duplicateRows = 0;
  duplicatePrompts = 0;

  add(t: RowText, raw: string): void {
    this.rows++;
    this.kinds[t.kind]++;
    for (const f of t.emptyFields) this.empty[f] = (this.empty[f] ?? 0) + 1;
    if (t.emptyFields.length > 0) this.emptyRows++;
    const text = fullText(t);
    this.lengths.text.add(text.length);
    if (!this.rowKeys.add(textKey(t.kind === 'none' ? raw : text))) this.duplicateRows++;
    if (t.kind === 'text' || t.kind === 'none') return;
    this.lengths.prompt.add(t.prompt.length);
    this.lengths.response.add(t.response.length);
    if (t.prompt !== '' && !this.promptKeys.add(textKey(t.prompt))) this.duplicatePrompts++;
  }
}

export async function auditData(path: string, opts: ReadOptions = {}): Promise<AuditReport> {
  const a = new Auditor();
  const bad = new BadLineCounter();
  for await (const row of readJsonl(path, opts, bad)) a.add(rowText(row.value), row.raw);
  return {
    data_path: path, total_rows: a.rows, bad_lines: bad.count, kinds: a.kinds, empty_fields: a.empty, rows_with_empty_fields: a.emptyRows,
    lengths: { prompt: a.lengths.prompt.stats(), response: a.lengths.response.stats(), text: a.lengths.text.stats() },
    duplicate_rows: a.duplicateRows, duplicate_prompts: a.duplicatePrompts,
  };
}
