import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { SandboxJob } from '../../src/eval/sandbox/index.js';

/** A job whose hidden test is `assert f() == expected`; `body` is f's body (indented 4 spaces). */
export function fnJob(body: string, expected = "'ok'"): SandboxJob {
  return { program: `def f():\n${body}\n`, visibleTests: [], testProgram: `assert f() == ${expected}\n`, entryPoint: 'f' };
}

export function uniqueTag(): string {
  return `apr-sbx-${randomBytes(8).toString('hex')}`;
}

/** PIDs of live processes whose environment contains `tag` (a marker passed through SandboxPolicy.extraEnv). */
export function processesWithTag(tag: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`).includes(tag)) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** A TCP server on 127.0.0.1 that counts the connections it accepts. */
export async function countingServer(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server: Server = createServer((sock) => {
    count++;
    sock.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return { port, connections: () => count, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
