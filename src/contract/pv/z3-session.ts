import type { CheckOptions, ProofOutcome, ProofSession, Z3Bool, Z3Ctx, Z3Expr } from './harness.js';

type Z3Module = typeof import('z3-solver');
type Z3Api = Awaited<ReturnType<Z3Module['init']>>;

export interface Z3Handle {
  readonly version: string;
  /** A session whose every query is limited to `timeoutMs`. */
  session(timeoutMs: number): ProofSession;
  /** Terminates z3's worker threads so that the process can exit. Idempotent. */
  close(): Promise<void>;
}

let shared: Promise<{ api: Z3Api; ctx: Z3Ctx }> | undefined;

/**
 * Starts z3 (WASM) once per process and warms it up (the first query pays the thread start-up, ~1–4 s,
 * which must not be charged to the first proof). Callers must `close()` or the worker threads keep the
 * process alive.
 */
export async function openZ3(): Promise<Z3Handle> {
  shared ??= (async () => {
    // Loaded on first use: the WASM glue is large and most pv commands never need it.
    const { init } = await import('z3-solver');
    // Emscripten reports late messages from workers killed by close(); they are noise, everything else passes.
    const printErr = (text: string): void => {
      if (!text.includes('from terminated worker')) process.stderr.write(`${text}\n`);
    };
    const api = await init({ printErr });
    const ctx = api.Context('main');
    const s = new ctx.Solver();
    s.add(ctx.Int.const('warm').gt(0));
    await s.check();
    return { api, ctx };
  })();
  const { api, ctx } = await shared;
  let closed = false;
  return {
    version: api.getVersionString(),
    session: (timeoutMs) => makeSession(ctx, timeoutMs),
    async close() {
      if (closed) return;
      closed = true;
      shared = undefined;
      const { killThreads } = await import('z3-solver');
      await killThreads(api.em);
    },
  };
}

function makeSession(ctx: Z3Ctx, timeoutMs: number): ProofSession {
  return {
    ctx,
    async check(claim: Z3Bool, opts: CheckOptions = {}): Promise<ProofOutcome> {
      const solver = new ctx.Solver();
      solver.set('timeout', Math.max(1, Math.round(timeoutMs)));
      for (const g of opts.given ?? []) solver.add(g);
      solver.add(ctx.Not(claim));
      const verdict = await solver.check();
      const label = opts.label ? `${opts.label}: ` : '';
      if (verdict === 'unsat') return { status: 'proved', queries: 1 };
      if (verdict === 'unknown') return { status: 'unknown', reason: `${label}${solver.reasonUnknown()}`, queries: 1 };
      const model = solver.model();
      const counterexample: Record<string, string> = {};
      for (const [name, term] of Object.entries(opts.show ?? {})) counterexample[name] = formatValue(ctx, model.eval(term, true));
      return { status: 'refuted', counterexample, queries: 1, ...(opts.label ? { reason: opts.label } : {}) };
    },
  };
}

/** Model values as a reader wants them: integers and bit-vectors in decimal (signed when negative as int32), rationals as p/q. */
export function formatValue(ctx: Z3Ctx, v: Z3Expr): string {
  if (ctx.isBitVecVal(v)) {
    const u = v.value();
    const s = v.asSignedValue();
    return s < 0n ? `${u} (${s} as int${v.size()})` : u.toString();
  }
  if (ctx.isIntVal(v)) return v.value().toString();
  if (ctx.isRealVal(v)) return v.asString();
  return v.sexpr();
}
