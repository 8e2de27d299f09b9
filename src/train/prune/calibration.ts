import { existsSync, readFileSync } from 'node:fs';
import { FormatError } from '../../formats/errors.js';
import { Rng } from '../../model/rng.js';

export interface CalibrationOptions {
  /** Number of samples (default 128, as Wanda and SparseGPT). */
  samples: number;
  /** Tokens per sample. */
  seqLen: number;
  seed: number;
}

export interface CalibrationSet {
  source: string;
  samples: number[][];
  /** Tokens the source text encodes to. */
  sourceTokens: number;
  /** Whether some samples overlap (the text was shorter than samples × seqLen). */
  overlapping: boolean;
}

/** The texts of a calibration file: one per JSON line ({"text": ...}) for .jsonl, else the whole file. */
export function calibrationTexts(path: string): string[] {
  if (!existsSync(path)) throw new FormatError(path, '--calibration', 'no such file');
  const text = readFileSync(path, 'utf8');
  if (!path.endsWith('.jsonl')) return [text];
  return text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      throw new FormatError(path, `line ${i + 1}`, 'not valid JSON');
    }
    const t = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)['text'] : undefined;
    if (typeof t !== 'string') throw new FormatError(path, `line ${i + 1}.text`, 'expected a string field "text"');
    return [t];
  });
}

function shuffleInPlace<T>(a: T[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
}

/**
 * Calibration samples of `seqLen` tokens: the token stream of all texts is cut into non-overlapping windows
 * and `samples` of them are drawn at random (seeded). When the text is too short for that, windows start at
 * random (seeded) offsets and may overlap.
 */
export function calibrationSet(source: string, texts: readonly string[], encode: (t: string) => number[], opts: CalibrationOptions): CalibrationSet {
  const ids = texts.flatMap((t) => encode(t));
  const { samples, seqLen } = opts;
  if (ids.length < Math.max(2, seqLen)) throw new FormatError(source, '--calibration', `${ids.length} tokens, fewer than one sample of ${seqLen}`);
  const rng = new Rng(opts.seed);
  const windows = Math.floor(ids.length / seqLen);
  let starts: number[];
  const overlapping = windows < samples;
  if (!overlapping) {
    starts = Array.from({ length: windows }, (_v, i) => i * seqLen);
    shuffleInPlace(starts, rng);
    starts = starts.slice(0, samples).sort((a, b) => a - b);
  } else {
    starts = Array.from({ length: samples }, () => Math.floor(rng.next() * (ids.length - seqLen + 1)));
  }
  return { source, samples: starts.map((s) => ids.slice(s, s + seqLen)), sourceTokens: ids.length, overlapping };
}
