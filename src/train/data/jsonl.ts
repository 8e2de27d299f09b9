import { readFileSync } from 'node:fs';
import { FormatError } from '../../formats/errors.js';

/** One non-blank line of a JSONL file, parsed to an object. */
export interface JsonlRecord {
  /** `file:line` (1-based), for errors. */
  readonly where: string;
  readonly value: Readonly<Record<string, unknown>>;
}

/** Reads a JSONL file: one JSON object per non-blank line; a bad line is a FormatError naming file:line. */
export function readJsonl(path: string): JsonlRecord[] {
  const text = readFileSync(path, 'utf8');
  const out: JsonlRecord[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new FormatError(where, 'json', `not valid JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FormatError(where, 'json', 'expected a JSON object per line');
    out.push({ where, value: value as Record<string, unknown> });
  });
  if (out.length === 0) throw new FormatError(path, 'records', 'no JSON lines (the file is empty)');
  return out;
}

/** A required string field of a record. */
export function stringField(r: JsonlRecord, field: string): string {
  const v = r.value[field];
  if (typeof v !== 'string') throw new FormatError(r.where, field, v === undefined ? 'missing (expected a string)' : `expected a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v;
}

/** An optional string field (absent or null → undefined). */
export function optionalStringField(r: JsonlRecord, field: string): string | undefined {
  const v = r.value[field];
  return v === undefined || v === null ? undefined : stringField(r, field);
}
