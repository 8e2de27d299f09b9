import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { HARNESS_PY } from './harness-source.js';
import type { SandboxIsolation, SandboxJob, SandboxLimits, SandboxPolicy, SandboxResult, SandboxStatus, VisibleOutcome } from './types.js';

const NOBODY = 65534;

/** This process's mount namespace; the harness refuses to remount anything inside it. */
function ownMountNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/mnt');
  } catch {
    return '';
  }
}
const MAX_CHANNEL_BYTES = 4 << 20;

/** The layers one run uses: what the machine provides, minus what the policy turns off. */
export interface ActiveLayers {
  namespaces: boolean;
  readonlyFs: boolean;
  drop: SandboxIsolation['drop'];
  auditHook: boolean;
}

export function activeLayers(iso: SandboxIsolation, policy: SandboxPolicy): ActiveLayers {
  const namespaces = iso.namespaces !== 'none' && iso.unshare !== null && policy.namespaces !== false;
  const dropAllowed = policy.dropPrivileges !== false;
  // dropping capabilities is only meaningful (and only done) as the root of a namespace
  const drop = !dropAllowed ? 'none' : iso.drop === 'capabilities' && !namespaces ? 'none' : iso.drop;
  return { namespaces, readonlyFs: namespaces && iso.readonlyFs && policy.readonlyFs !== false, drop, auditHook: policy.auditHook !== false };
}

function commandLine(iso: SandboxIsolation, layers: ActiveLayers): string[] {
  const python = [iso.python, '-s', '-B', '-c', HARNESS_PY];
  if (!layers.namespaces || iso.unshare === null) return python;
  const user = iso.namespaces === 'user' ? ['--user', '--map-root-user'] : [];
  return [iso.unshare, ...user, '--mount', '--net', '--pid', '--fork', '--kill-child', '--mount-proc', '--', ...python];
}

function scrubbedEnv(dir: string, extra: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: dir,
    TMPDIR: dir,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PYTHONHASHSEED: '0',
    PYTHONIOENCODING: 'utf-8',
    ...extra,
  };
}

/** Keeps the first `cap` bytes of a stream and keeps reading (so a chatty child never blocks on a full pipe). */
function capture(stream: Readable | null, cap: number): () => string {
  const chunks: Buffer[] = [];
  let kept = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (kept >= cap) return;
    const part = chunk.subarray(0, cap - kept);
    chunks.push(part);
    kept += part.byteLength;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

interface Report {
  layers: Record<string, string>;
  visible: VisibleOutcome[] | null;
  final: { status: SandboxStatus; detail: string } | null;
}

const STATUSES: readonly string[] = ['passed', 'failed', 'timeout', 'error'];

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseVisible(x: unknown): VisibleOutcome[] | null {
  if (!Array.isArray(x)) return null;
  return x.map((v): VisibleOutcome => {
    const r = isRecord(v) ? v : {};
    return { passed: r['passed'] === true, output: typeof r['output'] === 'string' ? r['output'] : null };
  });
}

/** Reads the harness's fd-3 lines, trusting only those that carry this run's nonce. */
function parseChannel(text: string, nonce: string): Report {
  const report: Report = { layers: {}, visible: null, final: null };
  for (const line of text.split('\n')) {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    if (!isRecord(msg) || msg['nonce'] !== nonce) continue;
    if (msg['stage'] === 'start' && isRecord(msg['layers'])) {
      for (const [k, v] of Object.entries(msg['layers'])) report.layers[k] = String(v);
    } else if (msg['stage'] === 'visible') {
      report.visible = parseVisible(msg['visible']);
    } else if (msg['stage'] === 'final' && typeof msg['status'] === 'string' && STATUSES.includes(msg['status'])) {
      report.final = { status: msg['status'] as SandboxStatus, detail: typeof msg['detail'] === 'string' ? msg['detail'] : '' };
    }
  }
  return report;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
}

async function removeDir(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch {
    // a sample may have removed permissions on its own subdirectories
    await chmod(dir, 0o700).catch(() => undefined);
    await rm(dir, { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

const CLOSE_GRACE_MS = 1000;

/**
 * Resolves when the child's pipes close. On its exit the whole group is killed at once (a PID namespace has
 * already done so); if a process outside the group still holds a pipe, the pipes are dropped after a grace.
 */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<Exit> {
  return new Promise<Exit>((resolve) => {
    let timedOut = false;
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code, signal, timedOut });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.on('error', () => finish(null, null));
    child.on('exit', (code, signal) => {
      killGroup(child.pid);
      setTimeout(() => {
        for (const s of child.stdio) s?.destroy();
        finish(code, signal);
      }, CLOSE_GRACE_MS).unref();
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** Runs one job with the given isolation: fresh temp dir, scrubbed env, its own process group, wall clock. */
export async function spawnSandbox(job: SandboxJob, limits: SandboxLimits, iso: SandboxIsolation, policy: SandboxPolicy): Promise<SandboxResult> {
  const layers = activeLayers(iso, policy);
  const dir = await mkdtemp(join(tmpdir(), 'apr-sbx-'));
  if (layers.drop === 'setuid') await chown(dir, NOBODY, NOBODY);
  const nonce = randomBytes(16).toString('hex');
  const started = performance.now();
  const [cmd, ...args] = commandLine(iso, layers);
  const child = spawn(cmd ?? iso.python, args, { cwd: dir, env: scrubbedEnv(dir, policy.extraEnv), detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const stdout = capture(child.stdout, limits.maxOutputBytes);
  const stderr = capture(child.stderr, limits.maxOutputBytes);
  const channel = capture(child.stdio[3] as Readable | null, MAX_CHANNEL_BYTES);
  const input = {
    nonce,
    ...job,
    readonlyFs: layers.readonlyFs,
    parentMountNs: ownMountNamespace(),
    drop: layers.drop,
    auditHook: layers.auditHook,
    limits: {
      memoryBytes: limits.memoryMb * 1024 * 1024,
      cpuSeconds: Math.ceil(limits.timeoutMs / 1000) + 1,
      maxProcesses: limits.maxProcesses,
      maxFileBytes: limits.maxFileMb * 1024 * 1024,
    },
  };
  child.stdin.on('error', () => undefined);
  child.stdin.end(JSON.stringify(input));
  const exit = await waitForExit(child, limits.timeoutMs);
  const durationMs = performance.now() - started;
  await removeDir(dir);
  return classify(parseChannel(channel(), nonce), exit, limits, { stdout: stdout(), stderr: stderr(), durationMs });
}

function classify(report: Report, exit: Exit, limits: SandboxLimits, io: { stdout: string; stderr: string; durationMs: number }): SandboxResult {
  const base = { visible: report.visible, layers: report.layers, ...io };
  if (exit.timedOut) return { ...base, status: 'timeout', detail: `wall-clock limit of ${limits.timeoutMs} ms exceeded` };
  if (report.final) return { ...base, ...report.final };
  const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
  const why = lastLine(io.stderr);
  return { ...base, status: 'error', detail: `no result reported (${how})${why ? `: ${why}` : ''}` };
}
