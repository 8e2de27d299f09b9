import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** Runs a command without a shell; never rejects (a spawn error becomes code 127 and stderr). */
export function runProcess(cmd: string, args: readonly string[], opts: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<ProcessResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs) : undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const finish = (code: number, extra = ''): void => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') + extra, durationMs: Date.now() - started, timedOut });
    };
    child.on('error', (e) => finish(127, e.message));
    child.on('close', (code) => finish(code ?? 1));
  });
}

/** The directory holding pmat's own package.json (works from the sources and from dist/). */
function pmatPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'node_modules'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** Resolves a tool's JS entry: the project's own `node_modules/.bin/<name>` first, then pmat's. */
export function resolveBin(root: string, name: string): string | undefined {
  for (const base of [root, pmatPackageRoot()]) {
    const bin = join(base, 'node_modules', '.bin', name);
    if (existsSync(bin)) return realpathSync(bin);
  }
  return undefined;
}

/** Runs a Node tool from node_modules/.bin with the current Node binary. */
export async function runNodeTool(root: string, name: string, args: readonly string[], timeoutMs: number): Promise<ProcessResult> {
  const bin = resolveBin(root, name);
  if (!bin) return { code: 127, stdout: '', stderr: `${name} is not installed (node_modules/.bin/${name} not found)`, durationMs: 0, timedOut: false };
  return runProcess(process.execPath, [bin, ...args], { cwd: root, timeoutMs });
}

export function sha256(parts: readonly (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p);
    h.update('\0');
  }
  return h.digest('hex');
}

/** Results of expensive tools keyed by a hash of every input file; kept in node_modules/.cache/pmat. */
export class ToolCache {
  private readonly dir: string;

  constructor(root: string, private readonly enabled: boolean) {
    const nm = join(root, 'node_modules');
    this.dir = existsSync(nm) ? join(nm, '.cache', 'pmat') : join(tmpdir(), 'pmat-cache');
  }

  get<T>(key: string): T | undefined {
    if (!this.enabled) return undefined;
    const file = join(this.dir, `${key}.json`);
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch {
      return undefined; // a corrupt cache entry is a miss
    }
  }

  set(key: string, value: unknown): void {
    if (!this.enabled) return;
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(join(this.dir, `${key}.json`), JSON.stringify(value));
    } catch {
      // the cache is an optimisation; a read-only node_modules must not fail the gate
    }
  }
}
