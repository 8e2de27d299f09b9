/**
 * Streaming JSONL for `apr data`: rows are read one line at a time (node:readline over a read stream, never
 * the whole file) and written through the project's atomic writer in buffered chunks.
 *
 * Malformed lines: a line that is not valid JSON, or whose value is not a JSON object, is a bad line. By
 * default the first one stops the command with `FILE:LINE: ...` (a FormatError: exit 3); with `skipBad` each
 * is reported on stderr through `onBad` and skipped, and the reports count them. Blank lines are ignored.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AtomicFile } from '../formats/atomic-write.js';
import { FormatError } from '../formats/errors.js';

export type JsonObject = Record<string, unknown>;

export interface JsonlRow {
  /** 1-based line number in the file. */
  line: number;
  /** The line as read (without its newline), for writing the row back unchanged. */
  raw: string;
  value: JsonObject;
}

export interface ReadOptions {
  /** Report and skip malformed lines instead of failing on the first one. */
  skipBad?: boolean;
  /** Called for each skipped bad line with `FILE:LINE: reason`. */
  onBad?: (message: string) => void;
}

export class BadLineCounter {
  count = 0;
}

function parseRow(raw: string): JsonObject | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return `malformed JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as JsonObject;
}

/** Yields every JSON-object line of `path` with its line number; bad lines throw or are skipped (see above). */
export async function* readJsonl(path: string, opts: ReadOptions = {}, bad = new BadLineCounter()): AsyncGenerator<JsonlRow> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    if (raw.trim() === '') continue;
    const value = parseRow(raw);
    if (typeof value !== 'string') {
      yield { line, raw, value };
      continue;
    }
    if (!opts.skipBad) {
      rl.close();
      throw new FormatError(path, `line ${line}`, `${value}; fix the line or pass --skip-bad`);
    }
    bad.count++;
    opts.onBad?.(`${path}:${line}: ${value}`);
  }
}

const FLUSH_BYTES = 1 << 20;

/** JSONL lines written through an AtomicFile (temporary sibling renamed on commit), buffered in 1 MiB chunks. */
class JsonlWriter {
  private readonly file: AtomicFile;
  private readonly encoder = new TextEncoder();
  private pending: string[] = [];
  private pendingChars = 0;
  rows = 0;

  constructor(path: string) {
    this.file = new AtomicFile(path);
  }

  get path(): string {
    return this.file.path;
  }

  /** Writes one line (a JSON text without its newline). */
  writeLine(line: string): void {
    this.pending.push(line, '\n');
    this.pendingChars += line.length + 1;
    this.rows++;
    if (this.pendingChars >= FLUSH_BYTES) this.flush();
  }

  writeObject(value: JsonObject): void {
    this.writeLine(JSON.stringify(value));
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.file.write(this.encoder.encode(this.pending.join('')));
    this.pending = [];
    this.pendingChars = 0;
  }

  commit(): void {
    this.flush();
    this.file.commit();
  }

  abort(): void {
    this.file.abort();
  }
}

/** Runs `fill` with writers for `paths` (undefined for none); commits all on success, aborts all on error. */
export async function withWriters<T>(paths: readonly (string | undefined)[], fill: (writers: (JsonlWriter | undefined)[]) => Promise<T>): Promise<T> {
  const writers: (JsonlWriter | undefined)[] = [];
  try {
    for (const p of paths) writers.push(p === undefined ? undefined : new JsonlWriter(p));
    const result = await fill(writers);
    for (const w of writers) w?.commit();
    return result;
  } catch (err) {
    for (const w of writers) w?.abort();
    throw err;
  }
}
