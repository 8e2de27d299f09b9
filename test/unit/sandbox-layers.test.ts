import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARNESS_PY } from '../../src/eval/sandbox/harness-source.js';
import { detectIsolation, runInSandbox, type SandboxIsolation, type SandboxPolicy, which } from '../../src/eval/sandbox/index.js';
import { countingServer, fnJob, processesWithTag, sleep, uniqueTag } from './sandbox-helpers.js';

// Each defence layer alone (the others turned off), with a control run showing the same completion does
// succeed when that layer is off too, so every assertion below could fail. Layers this machine cannot
// provide are skipped (the isolation found is printed).

let iso: SandboxIsolation;
const root = process.getuid?.() === 0;
let scratch: string;

beforeAll(async () => {
  iso = await detectIsolation();
  console.error(`sandbox isolation: ${JSON.stringify(iso)}`);
  scratch = mkdtempSync(join(tmpdir(), 'apr-layers-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const hasNamespaces = (): boolean => iso.namespaces !== 'none';
const NOTHING: SandboxPolicy = { namespaces: false, readonlyFs: false, dropPrivileges: false, auditHook: false };

describe.concurrent('sandbox layers, one at a time', () => {
  it('network namespace alone: connect fails with ENETUNREACH; control connects', async ({ skip }) => {
    if (!hasNamespaces()) skip();
    const server = await countingServer();
    try {
      const job = fnJob(`    import socket\n    socket.create_connection(('127.0.0.1', ${server.port}), timeout=2).close()\n    return 'ok'`);
      const isolated = await runInSandbox(job, { policy: { ...NOTHING, namespaces: true } });
      expect(isolated.status).toBe('error');
      expect(isolated.detail).toMatch(/Network is unreachable/);
      await sleep(100);
      expect(server.connections()).toBe(0);
      const control = await runInSandbox(job, { policy: NOTHING });
      expect(control.status).toBe('passed');
      expect(server.connections()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('read-only mounts alone: a write to /tmp fails with EROFS; control writes', async ({ skip }) => {
    if (!iso.readonlyFs) skip();
    const target = join(tmpdir(), `${uniqueTag()}.txt`);
    try {
      const job = fnJob(`    open(${JSON.stringify(target)}, 'w').write('x')\n    return 'ok'`);
      const isolated = await runInSandbox(job, { policy: { ...NOTHING, namespaces: true, readonlyFs: true } });
      expect(isolated.status).toBe('error');
      expect(isolated.detail).toMatch(/Read-only file system/);
      expect(existsSync(target)).toBe(false);
      const control = await runInSandbox(job, { policy: NOTHING });
      expect(control.status).toBe('passed');
      expect(existsSync(target)).toBe(true);
    } finally {
      rmSync(target, { force: true });
    }
  });

  it('uid nobody alone: writing into a root-owned directory and reading a root-only file fail with EACCES', async ({ skip }) => {
    if (!root || iso.drop !== 'setuid') skip();
    const dir = mkdtempSync(join(scratch, 'owned-'));
    chmodSync(dir, 0o755);
    const secretFile = join(dir, 'secret.txt');
    writeFileSync(secretFile, 'top secret', { mode: 0o600 });
    const target = join(dir, 'new.txt');
    const write = fnJob(`    open(${JSON.stringify(target)}, 'w').write('x')\n    return 'ok'`);
    const read = fnJob(`    return open(${JSON.stringify(secretFile)}).read()`, "'top secret'");
    const [w, r] = await Promise.all([write, read].map((job) => runInSandbox(job, { policy: { ...NOTHING, dropPrivileges: true } })));
    expect(w?.status).toBe('error');
    expect(w?.detail).toMatch(/Permission denied/);
    expect(existsSync(target)).toBe(false);
    expect(r?.status).toBe('error');
    expect(r?.detail).toMatch(/Permission denied/);
    const control = await runInSandbox(read, { policy: NOTHING });
    expect(control.status).toBe('passed');
  });

  it('audit hook alone: fork, socket, write outside and foreign /proc reads are refused', async () => {
    const server = await countingServer();
    const target = join(tmpdir(), `${uniqueTag()}.txt`);
    try {
      const jobs = [
        fnJob('    import os\n    os.fork()\n    return "ok"'),
        fnJob(`    import socket\n    socket.socket().connect(('127.0.0.1', ${server.port}))\n    return 'ok'`),
        fnJob(`    open(${JSON.stringify(target)}, 'w').write('x')\n    return 'ok'`),
        fnJob(`    return open('/proc/${process.pid}/environ').read()`),
        fnJob('    import ctypes\n    return "ok"'),
      ];
      const rs = await Promise.all(jobs.map((job) => runInSandbox(job, { policy: { ...NOTHING, auditHook: true } })));
      expect(rs.map((r) => r.status)).toEqual(['error', 'error', 'error', 'error', 'error']);
      expect(rs.map((r) => /sandbox refused (\S+)/.exec(r.detail)?.[1])).toEqual(['os.fork', 'socket.__new__', 'open', 'open', 'import']);
      await sleep(100);
      expect(server.connections()).toBe(0);
      expect(existsSync(target)).toBe(false);
    } finally {
      await server.close();
      rmSync(target, { force: true });
    }
  });

  it('RLIMIT_NPROC alone: forking past the limit fails with EAGAIN', async ({ skip }) => {
    // root is exempt from RLIMIT_NPROC, so this layer is only counted on when the uid drop to nobody works
    if (iso.drop !== 'setuid') skip();
    const body = '    import os, time\n    for _ in range(200):\n        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n    return "ok"';
    const policy: SandboxPolicy = { ...NOTHING, namespaces: true, dropPrivileges: true };
    const r = await runInSandbox(fnJob(body), { policy, limits: { maxProcesses: 16, timeoutMs: 8000 } });
    expect(r.status).toBe('error');
    expect(r.detail).toMatch(/^BlockingIOError: \[Errno 11\]/);
  });

  it('PID namespace: a setsid() grandchild that outlives the sample is killed with it', async ({ skip }) => {
    if (!hasNamespaces()) skip();
    const tag = uniqueTag();
    const body = '    import os, time\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(30)\n        os._exit(0)\n    return "ok"';
    const r = await runInSandbox(fnJob(body), { policy: { ...NOTHING, namespaces: true, extraEnv: { APR_SBX_TAG: tag } } });
    expect(r.status).toBe('passed');
    await sleep(200);
    expect(processesWithTag(tag)).toEqual([]);
  });

  it('process group kill alone: a plain child left sleeping is killed when the sample ends', async () => {
    const tag = uniqueTag();
    const body = '    import os, time\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n    return "ok"';
    const r = await runInSandbox(fnJob(body), { policy: { ...NOTHING, extraEnv: { APR_SBX_TAG: tag } } });
    expect(r.status).toBe('passed');
    await sleep(200);
    expect(processesWithTag(tag)).toEqual([]);
  });

  it('RLIMIT_AS alone: a 64 GiB allocation raises MemoryError; 50 MB is fine', async () => {
    const big = await runInSandbox(fnJob('    return len(bytearray(64 * 1024 ** 3))'), { policy: NOTHING, limits: { memoryMb: 512 } });
    expect(big.status).toBe('error');
    expect(big.detail).toBe('MemoryError');
    const small = await runInSandbox(fnJob('    return len(bytearray(50 * 1024 ** 2))', String(50 * 1024 ** 2)), { policy: NOTHING, limits: { memoryMb: 512 } });
    expect(small.status).toBe('passed');
  });

  it('RLIMIT_FSIZE alone: a file beyond the limit fails with EFBIG', async () => {
    const r = await runInSandbox(fnJob("    open('big.bin', 'wb').write(b'x' * (3 * 1024 * 1024))\n    return 'ok'"), { policy: NOTHING, limits: { maxFileMb: 1 } });
    expect(r.status).toBe('error');
    expect(r.detail).toMatch(/File too large/);
  });

  it('the /proc of the PID namespace does not show the parent (no audit hook, no uid drop)', async ({ skip }) => {
    if (!hasNamespaces()) skip();
    const body = `    import os\n    return os.path.exists('/proc/${process.pid}/environ') and ${process.pid} != os.getpid()`;
    const isolated = await runInSandbox(fnJob(body, 'False'), { policy: { ...NOTHING, namespaces: true } });
    expect(isolated.status).toBe('passed');
    const control = await runInSandbox(fnJob(body, 'False'), { policy: NOTHING });
    expect(control.status).toBe('failed');
  });

  it('the harness refuses to remount when it shares the parent mount namespace (mount table unchanged)', ({ skip }) => {
    // run unprivileged so that, were the guard broken, the mount calls would fail rather than touch this machine
    const setpriv = which('setpriv');
    if (root && (setpriv === null || iso.drop !== 'setuid')) skip();
    const before = readFileSync('/proc/self/mountinfo', 'utf8');
    const dir = mkdtempSync(join(scratch, 'guard-'));
    chmodSync(dir, 0o777);
    const job = { nonce: 'n', program: 'pass\n', visibleTests: [], testProgram: 'pass\n', entryPoint: '', readonlyFs: true, parentMountNs: readlinkSync('/proc/self/ns/mnt'), drop: 'none', auditHook: true, limits: { memoryBytes: 2 ** 31, cpuSeconds: 10, maxProcesses: 64, maxFileBytes: 2 ** 24 } };
    const argv = [iso.python, '-s', '-B', '-c', HARNESS_PY];
    const cmd = root && setpriv !== null ? [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv;
    const r = spawnSync(cmd[0] ?? '', cmd.slice(1), { cwd: dir, input: JSON.stringify(job), stdio: ['pipe', 'pipe', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('refusing to remount: not in a private mount namespace');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
  });
});
