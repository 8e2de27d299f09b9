import { readFileSync } from 'node:fs';
import { FormatError } from '../../formats/errors.js';

/** One parsed JSONL record with its 1-based line number. */
export interface JsonlRecord {
  line: number;
  value: Record<string, unknown>;
}

/** Parses JSON Lines; blank lines are skipped; a bad line is a FormatError naming the file and line. */
export function parseJsonl(text: string, file: string): JsonlRecord[] {
  const out: JsonlRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new FormatError(file, `line ${i + 1}`, `not valid JSON (${(err as Error).message.split('\n')[0] ?? ''})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FormatError(file, `line ${i + 1}`, 'expected a JSON object');
    }
    out.push({ line: i + 1, value: value as Record<string, unknown> });
  }
  return out;
}

export function readJsonl(path: string): JsonlRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FormatError(path, 'file', `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseJsonl(text, path);
}

/** Field accessors that throw a FormatError naming file, line and field. */
export class RecordFields {
  constructor(
    private readonly file: string,
    private readonly rec: JsonlRecord,
  ) {}

  fail(field: string, expected: string): never {
    throw new FormatError(this.file, `line ${this.rec.line}: ${field}`, expected);
  }

  has(field: string): boolean {
    return this.rec.value[field] !== undefined && this.rec.value[field] !== null;
  }

  string(field: string): string {
    const v = this.rec.value[field];
    if (typeof v !== 'string') this.fail(field, `expected a string, got ${describe(v)}`);
    return v;
  }

  optionalString(field: string): string | null {
    return this.has(field) ? this.string(field) : null;
  }

  /** A string or an integer id, as a string. */
  id(field: string): string {
    const v = this.rec.value[field];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    return this.fail(field, `expected a non-empty string or an integer, got ${describe(v)}`);
  }

  stringArray(field: string): string[] {
    const v = this.rec.value[field];
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) this.fail(field, `expected an array of strings, got ${describe(v)}`);
    return v;
  }

  optionalNumber(field: string): number | null {
    if (!this.has(field)) return null;
    const v = this.rec.value[field];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, `expected a finite number, got ${describe(v)}`);
    return v;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `a string` : typeof v;
}
