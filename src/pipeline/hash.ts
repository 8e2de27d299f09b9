/** Content hashes for the stage cache: files streamed through sha256, folders as their files, keys over canonical JSON. */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { TOOL_VERSION } from '../ops/version.js';
import type { PlannedStage } from './stages.js';

/** JSON with object keys sorted at every level (the same value always gives the same text). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** sha256 of a file, read as a stream (bounded memory for any size). */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** The files under a folder (relative, '/'-separated, sorted), skipping the writers' temporaries. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.apr-tmp-')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) found.push(relative(dir, p).split(sep).join('/'));
    }
  };
  visit(dir);
  return found.sort();
}

/** Hashes files once per run (a stage's output is the next stage's input). */
export class HashCache {
  private readonly known = new Map<string, Promise<string>>();

  file(path: string): Promise<string> {
    let h = this.known.get(path);
    if (h === undefined) {
      h = hashFile(path);
      this.known.set(path, h);
    }
    return h;
  }

  /** Forget what is known about paths under `prefix` (after a stage rewrote them). */
  forget(prefix: string): void {
    for (const k of this.known.keys()) if (k === prefix || k.startsWith(prefix + sep) || k.startsWith(`${prefix}/`)) this.known.delete(k);
  }

  /** `{relative name: sha256}` for an output (a file, or every file of a folder); undefined when missing. */
  async output(dir: string, rel: string): Promise<Record<string, string> | undefined> {
    const p = join(dir, rel);
    if (!existsSync(p)) return undefined;
    if (!statSync(p).isDirectory()) return { [rel]: await this.file(p) };
    const out: Record<string, string> = {};
    for (const f of filesUnder(p)) out[`${rel}/${f}`] = await this.file(join(p, f));
    return out;
  }

  /** A single digest for an input (a folder input hashes its file list and contents); undefined when missing. */
  async input(path: string): Promise<string | undefined> {
    if (!existsSync(path)) return undefined;
    if (!statSync(path).isDirectory()) return this.file(path);
    const entries: Record<string, string> = {};
    for (const f of filesUnder(path)) entries[f] = await this.file(join(path, f));
    return sha256Text(canonicalJson(entries));
  }
}

/** Option keys naming input files: their bytes are in the key (by role), so the paths themselves are left out. */
const PATH_KEYS = ['data', 'dataset', 'teacher', 'student', 'ref_model', 'models', 'base_model', 'calibration_data'];

function keyOptions(options: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (!PATH_KEYS.includes(k)) kept[k] = v;
    else kept[k] = typeof v === 'string' && v.startsWith('init:') ? 'init:' : '<input>';
  }
  return kept;
}

/**
 * A stage's cache key: sha256 over its name, options (canonical), output names, the apr version and the
 * bytes of every input (by role, so moving a file changes nothing). Undefined while an input is missing.
 */
export async function stageKey(stage: PlannedStage, hashes: HashCache): Promise<string | undefined> {
  const inputs: Record<string, string> = {};
  for (const i of stage.inputs) {
    const h = await hashes.input(i.path);
    if (h === undefined) return undefined;
    inputs[i.role] = h;
  }
  return sha256Text(canonicalJson({ stage: stage.name, options: keyOptions(stage.options), outputs: stage.outputs, version: TOOL_VERSION, inputs }));
}
