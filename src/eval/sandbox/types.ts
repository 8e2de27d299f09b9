/** One sample to execute: the candidate program, the tests a reranker may see, and the hidden tests. */
export interface SandboxJob {
  /** The candidate program (prompt + completion, or setup + full code), run in a fresh namespace. */
  program: string;
  /**
   * Single assert statements run against a view of the program's namespace in which the entry point is also
   * bound to `candidate` and to the parameter of each test function the test program calls with it (`check(f)`);
   * each reports pass/fail and the repr of the compared left-hand side. Empty: stage skipped.
   */
  visibleTests: readonly string[];
  /**
   * Run after the program in another fresh namespace; the sample passes when it raises nothing and, with a
   * reference, every call the tests make to the entry point conforms to the reference's output.
   */
  testProgram: string;
  /** The function the tests call; '' for none. */
  entryPoint: string;
  /**
   * The reference solution (a program defining the entry point), '' or absent for none. Each call of the entry
   * point by the tests is compared with the reference called on a deep copy of the same arguments: the value must
   * have the reference output's type all the way down and its value (floats within atol 1e-6 + rtol 1e-7; an int
   * equal to a float result passes), so an object whose `__eq__` always answers True fails ('ReferenceMismatch').
   */
  reference?: string;
}

export interface SandboxLimits {
  /** Wall-clock limit for the whole sample, start-up included; the process group is killed after it. */
  timeoutMs: number;
  /** RLIMIT_AS (virtual memory) in MiB. */
  memoryMb: number;
  /** RLIMIT_NPROC: processes of the sandbox user (counts all its processes, so keep it above the workers). */
  maxProcesses: number;
  /** RLIMIT_FSIZE in MiB: the largest file a sample may write (inside its directory). */
  maxFileMb: number;
  /** Bytes of stdout and of stderr kept (the rest is read and dropped). */
  maxOutputBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = { timeoutMs: 10_000, memoryMb: 2048, maxProcesses: 64, maxFileMb: 16, maxOutputBytes: 65_536 };

/**
 * Which defence layers a run may use (all by default). Turning one off exists to test the others alone;
 * a layer the machine cannot provide is off whatever this says (see `SandboxIsolation`).
 */
export interface SandboxPolicy {
  /** Network, PID and mount namespaces via `unshare` (no network interface up, no process visible outside). */
  namespaces?: boolean;
  /** Every mount read-only except the sandbox directory (needs the mount namespace). */
  readonlyFs?: boolean;
  /** uid nobody (real root) or no capabilities (user namespace). */
  dropPrivileges?: boolean;
  /** The Python audit hook (no processes, sockets, ctypes, writes outside, reads outside system dirs). */
  auditHook?: boolean;
  /** Variables added to the scrubbed environment (tests use it as a control). */
  extraEnv?: Readonly<Record<string, string>>;
}

/** What this machine can provide, found once by probing (see `detectIsolation`). */
export interface SandboxIsolation {
  /** Absolute path of the Python interpreter. */
  python: string;
  /** `host-root`: unshare as real root; `user`: unshare in a new user namespace; `none`: no namespaces. */
  namespaces: 'host-root' | 'user' | 'none';
  /** Absolute path of util-linux `unshare`, when namespaces are used. */
  unshare: string | null;
  readonlyFs: boolean;
  /** `setuid`: become uid/gid 65534; `capabilities`: stay namespace root with every capability dropped. */
  drop: 'setuid' | 'capabilities' | 'none';
}

/**
 * passed: the hidden tests ran to the end. failed: the candidate's own fault (wrong answer, an exception,
 * a syntax error, sys.exit). timeout: killed at the wall-clock limit. error: stopped by the sandbox (an
 * operation the audit hook refused, MemoryError, an OS error a limit or layer causes — EFBIG, EMFILE, EAGAIN,
 * EROFS, EACCES, EPERM, ENETUNREACH — or a signal such as SIGXCPU) or ended without reporting a result (os._exit).
 */
export type SandboxStatus = 'passed' | 'failed' | 'timeout' | 'error';

export interface VisibleOutcome {
  passed: boolean;
  /** repr of the compared value, '!ExceptionName' when evaluating it raised, null for non-comparison asserts. */
  output: string | null;
}

export interface SandboxResult {
  status: SandboxStatus;
  /** One line: the exception, the refused operation, the limit hit, or '' when passed. */
  detail: string;
  /** Results of the visible tests, null when that stage did not complete (or had no tests). */
  visible: VisibleOutcome[] | null;
  /** The layers the harness reports as active (e.g. {readonlyFs: 'ok', drop: 'uid 65534', auditHook: 'on'}). */
  layers: Record<string, string>;
  stdout: string;
  stderr: string;
  durationMs: number;
}
