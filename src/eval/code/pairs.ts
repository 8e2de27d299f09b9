import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeAtomically } from '../../formats/atomic-write.js';

/** A preference pair for DPO (`apr align`): a passing and a failing completion of the same prompt. */
export interface DpoPair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/**
 * Up to `cap` pairs for one prompt, walking passing and failing completions together (pair t is
 * passing[t mod c] with failing[t mod (n−c)]), so every completion is used before any pairing repeats one.
 */
export function dpoPairs(prompt: string, completions: readonly { text: string; passed: boolean }[], cap: number): DpoPair[] {
  const good = completions.filter((c) => c.passed).map((c) => c.text);
  const bad = completions.filter((c) => !c.passed).map((c) => c.text);
  const out: DpoPair[] = [];
  const count = Math.min(cap, Math.max(good.length, bad.length));
  if (good.length === 0 || bad.length === 0) return out;
  for (let t = 0; t < count; t++) {
    const chosen = good[t % good.length] ?? '';
    const rejected = bad[t % bad.length] ?? '';
    if (chosen !== rejected) out.push({ prompt, chosen, rejected });
  }
  return out;
}

/** Writes rows as JSON Lines through a temporary file renamed into place (never half-written). */
export function writeJsonlAtomically(path: string, rows: readonly unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const text = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');
  writeAtomically(path, (f) => f.write(new TextEncoder().encode(text)));
}
