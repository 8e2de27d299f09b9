import type { ProvenanceEntry } from '../../tensor/bundle.js';
import { isDigest } from '../../tensor/digest.js';
import type { Findings } from './types.js';

/** A writer's clock may run a little ahead of the checker's. */
const CLOCK_SKEW_MS = 24 * 3600 * 1000;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Checks one entry; returns its time in ms, NaN when malformed, undefined when it has none (reproducible outputs). */
function entryChecks(e: ProvenanceEntry, i: number, f: Findings): number | undefined {
  const at = `provenance[${i}]`;
  if (e.op.trim() === '') f.fail(`${at}.op: empty`);
  if (e.toolVersion.trim() === '') f.fail(`${at}.toolVersion: empty`);
  if (e.inputDigests.length === 0) f.fail(`${at}.inputDigests: empty (an operation has at least one input)`);
  e.inputDigests.forEach((d, j) => {
    if (!isDigest(d)) f.fail(`${at}.inputDigests[${j}]: ${JSON.stringify(d)} is not a sha256:<64 hex> digest`);
  });
  if (e.time === undefined) return undefined;
  const t = ISO_TIME.test(e.time) ? Date.parse(e.time) : NaN;
  if (Number.isNaN(t)) f.fail(`${at}.time: ${JSON.stringify(e.time)} is not an ISO-8601 time`);
  return t;
}

/**
 * Each entry well-formed; the times that are recorded (entries written without SOURCE_DATE_EPOCH have
 * none) non-decreasing and not in the future.
 */
export function provenanceChecks(entries: readonly ProvenanceEntry[], f: Findings, now = Date.now()): void {
  let latest = { t: -Infinity, i: -1 };
  entries.forEach((e, i) => {
    const t = entryChecks(e, i, f);
    if (t === undefined || Number.isNaN(t)) return;
    if (t < latest.t) f.fail(`provenance[${i}].time: ${e.time ?? ''} precedes provenance[${latest.i}].time (the chain is out of order)`);
    if (t > now + CLOCK_SKEW_MS) f.warn(`provenance[${i}].time: ${e.time ?? ''} is in the future`);
    if (t >= latest.t) latest = { t, i };
  });
}
