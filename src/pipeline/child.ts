/** Runs one `apr` verb as a child process of the same Node, exactly as the command line a user would type. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The package root: the nearest folder above this module holding package.json (from src/ and from dist/). */
function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the pipeline module');
    dir = up;
  }
  return dir;
}

/** Node arguments that start the `apr` CLI: the built one from dist, or the source through tsx when running from source. */
function aprEntry(): string[] {
  const root = packageDir();
  if (import.meta.url.endsWith('.js')) return [join(root, 'dist', 'src', 'cli', 'apr.js')];
  return ['--import', import.meta.resolve('tsx'), join(root, 'src', 'cli', 'apr.ts')];
}

/** Runs `apr <args>`; resolves with the exit code and the captured output (never rejects on a non-zero exit). */
export function runApr(args: readonly string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...aprEntry(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({
      code: code ?? (signal ? 128 : 1),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    }));
  });
}
