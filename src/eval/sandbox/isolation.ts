import { execFile } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { spawnSandbox } from './process.js';
import { DEFAULT_LIMITS, type SandboxIsolation, type SandboxJob } from './types.js';

/** Resolves a command against PATH to an absolute executable, or null. */
export function which(cmd: string, pathVar = process.env['PATH'] ?? ''): string | null {
  if (isAbsolute(cmd)) return isExecutable(cmd) ? cmd : null;
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, cmd);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The interpreter behind a command (pyenv and similar install shims that need the caller's environment). */
function realInterpreter(cmd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, ['-c', 'import sys; print(sys.executable)'], { timeout: 15_000 }, (err, out) => {
      const path = err ? '' : out.trim();
      resolve(path && isAbsolute(path) ? realpathSync(path) : null);
    });
  });
}

async function pythonCandidates(preferred: string | undefined): Promise<string[]> {
  const named = [preferred, process.env['APR_PYTHON'], which('python3') ?? undefined, '/usr/bin/python3'];
  const found: string[] = [];
  for (const cmd of named) {
    if (!cmd) continue;
    const real = await realInterpreter(cmd);
    if (real && !found.includes(real)) found.push(real);
  }
  return found;
}

/** A sample that passes only when the interpreter can still import its standard library after the drop. */
const PROBE_JOB: SandboxJob = {
  program: 'import collections, itertools, functools, math, re, string, heapq, bisect, statistics, fractions, decimal, json, typing, hashlib, datetime\ndef probe():\n    return sorted(collections.Counter("abca").items())\n',
  visibleTests: ['assert candidate() == [("a", 2), ("b", 1), ("c", 1)]'],
  testProgram: 'assert probe() == [("a", 2), ("b", 1), ("c", 1)]\n',
  entryPoint: 'probe',
};

async function works(iso: SandboxIsolation): Promise<boolean> {
  const r = await spawnSandbox(PROBE_JOB, { ...DEFAULT_LIMITS, timeoutMs: 20_000 }, iso, {});
  const wantReadonly = iso.readonlyFs ? r.layers['readonlyFs'] === 'ok' : true;
  const wantDrop = iso.drop === 'none' || r.layers['drop'] !== undefined;
  return r.status === 'passed' && r.layers['auditHook'] === 'on' && wantReadonly && wantDrop && r.visible?.[0]?.passed === true;
}

/** The configurations to try, strongest first. */
function configurations(python: string, unshare: string | null, root: boolean): SandboxIsolation[] {
  const out: SandboxIsolation[] = [];
  const drops = root ? (['setuid', 'capabilities'] as const) : (['capabilities'] as const);
  if (unshare !== null) {
    const namespaces = root ? 'host-root' : 'user';
    for (const readonlyFs of [true, false]) for (const drop of drops) out.push({ python, namespaces, unshare, readonlyFs, drop });
  }
  out.push({ python, namespaces: 'none', unshare: null, readonlyFs: false, drop: root ? 'setuid' : 'none' });
  if (root) out.push({ python, namespaces: 'none', unshare: null, readonlyFs: false, drop: 'none' });
  return out;
}

/**
 * Probes, strongest first, which isolation works here: each configuration runs a real sample that must import
 * the standard library after the privilege drop and report every layer active.
 */
export async function probeIsolation(preferredPython?: string): Promise<SandboxIsolation> {
  const pythons = await pythonCandidates(preferredPython);
  if (pythons.length === 0) throw new Error('sandbox: no python3 interpreter found (set APR_PYTHON or put python3 on PATH)');
  const unshare = which('unshare');
  const root = process.getuid?.() === 0;
  const tried: string[] = [];
  // a stronger layer set with any interpreter beats a weaker one with the preferred interpreter
  const rounds = configurations('', unshare, root);
  for (const shape of rounds) {
    for (const python of pythons) {
      const iso = { ...shape, python };
      if (await works(iso)) return iso;
      tried.push(`${python} ${shape.namespaces}/${shape.drop}`);
    }
  }
  throw new Error(`sandbox: no working configuration (tried ${tried.join(', ')})`);
}

const cache = new Map<string, Promise<SandboxIsolation>>();

/** `probeIsolation`, once per process and interpreter. */
export function detectIsolation(preferredPython?: string): Promise<SandboxIsolation> {
  const key = preferredPython ?? '';
  let found = cache.get(key);
  if (!found) {
    found = probeIsolation(preferredPython);
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}
