import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TAG = /\[?ob:([\w.-]+)\]?/g;

/** Obligation ids tagged (`[ob:<id>]`) in a test file, read as text; `undefined` when the file is missing. */
export function tagsInFile(root: string, file: string, cache: Map<string, Set<string> | undefined> = new Map()): Set<string> | undefined {
  if (cache.has(file)) return cache.get(file);
  const path = join(root, file);
  const tags = existsSync(path) ? new Set([...readFileSync(path, 'utf8').matchAll(TAG)].map((m) => m[1] ?? '')) : undefined;
  cache.set(file, tags);
  return tags;
}
