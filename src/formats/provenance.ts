/**
 * Provenance entries as every writing verb records them, reproducibly: the same inputs and options give the
 * same bytes on any machine, in any folder, at any time. So an entry holds no wall-clock time (only
 * `SOURCE_DATE_EPOCH`, when set), no absolute or cwd-relative path (inputs are named by file name and
 * identified by digest) and nothing about the host.
 */
import { basename } from 'node:path';
import type { ProvenanceEntry } from '../tensor/bundle.js';
import { FormatError } from './errors.js';

/** The latest time a JavaScript Date holds (ms since the epoch). */
const MAX_DATE_MS = 8.64e15;

/**
 * The time to record: `SOURCE_DATE_EPOCH` (integer seconds since 1970-01-01 UTC, reproducible-builds.org)
 * as ISO 8601 in UTC, or undefined when it is unset or empty. A malformed value is an error, not ignored.
 */
export function sourceDateTime(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env['SOURCE_DATE_EPOCH'];
  if (raw === undefined || raw === '') return undefined;
  const ms = /^\d{1,15}$/.test(raw) ? Number(raw) * 1000 : NaN;
  if (!(ms <= MAX_DATE_MS)) throw new FormatError('environment', 'SOURCE_DATE_EPOCH', `expected whole seconds since 1970-01-01 UTC (as \`date +%s\` prints), got '${raw}'`);
  return new Date(ms).toISOString();
}

/**
 * How an input path is named in provenance: its file name (a trailing slash ignored), keeping a
 * `scheme:` prefix such as distill's `init:`. The entry's `inputDigests` say which file it was.
 */
export function pathLabel(path: string): string {
  const m = /^([a-z][a-z0-9+.-]+:)(.+)$/i.exec(path);
  return m?.[1] !== undefined && m[2] !== undefined ? m[1] + basename(m[2]) : basename(path);
}

/** `entry` with `time` from `SOURCE_DATE_EPOCH`, or without a time when it is unset. */
export function provenanceEntry(entry: Omit<ProvenanceEntry, 'time'>, env: NodeJS.ProcessEnv = process.env): ProvenanceEntry {
  const time = sourceDateTime(env);
  return time === undefined ? { ...entry } : { ...entry, time };
}
