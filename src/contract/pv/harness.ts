import type { Arith, Bool, Context, Expr } from 'z3-solver';

/** The z3 high-level context every harness receives. */
export type Z3Ctx = Context<'main'>;
export type Z3Bool = Bool<'main'>;
export type Z3Arith = Arith<'main'>;
export type Z3Expr = Expr<'main'>;

export type Verdict = 'proved' | 'refuted' | 'unknown';

export interface ProofOutcome {
  status: Verdict;
  /** Values of the harness's named terms in a model of the negated claim (only when refuted). */
  counterexample?: Record<string, string>;
  /** Why z3 gave up (timeout, incomplete theory), or which query failed. */
  reason?: string;
  /** Number of solver queries issued. */
  queries: number;
}

export interface ProofRunOptions {
  /** The bound actually used (harness default or --bound); ignored by complete proofs. */
  bound: number;
  /** Wall-clock limit of every single solver query, in milliseconds. */
  timeoutMs: number;
  /** Name of a planted bug to inject (the harness must then be refuted). */
  plant?: string | undefined;
}

export interface CheckOptions {
  /** Assumptions (the domain): the claim must hold whenever all of these hold. */
  given?: readonly Z3Bool[];
  /** Terms reported in a counterexample, by name. */
  show?: Readonly<Record<string, Z3Expr>>;
  /** Label of this query, reported when it is not proved. */
  label?: string;
}

/** What a harness uses to talk to z3: the context plus a validity check with the run's timeout. */
export interface ProofSession {
  readonly ctx: Z3Ctx;
  /** Proves `claim` valid under `given` (unsat of given ∧ ¬claim), within the per-query timeout. */
  check(claim: Z3Bool, opts?: CheckOptions): Promise<ProofOutcome>;
}

export interface ProofHarness {
  /** Matches `proofs[].id` in the contract YAML. */
  id: string;
  contract: string;
  obligation: string;
  /** One line: what is proved, about which code. */
  title: string;
  /** Default bound; `null` for a complete proof (all values, no bound). */
  bound: number | null;
  /** Planted bugs this harness can inject: name → what the bug is. Each must make the proof refuted. */
  plants: Readonly<Record<string, string>>;
  run(session: ProofSession, opts: ProofRunOptions): Promise<ProofOutcome>;
}

/** Identity helper so harness files get type checking on their array literal. */
export function defineProofs(proofs: readonly ProofHarness[]): readonly ProofHarness[] {
  return proofs;
}

/** Runs queries in order and stops at the first one that is not proved; totals the query count. */
export async function allOf(queries: readonly (() => Promise<ProofOutcome>)[]): Promise<ProofOutcome> {
  let count = 0;
  for (const q of queries) {
    const r = await q();
    count += r.queries;
    if (r.status !== 'proved') return { ...r, queries: count };
  }
  return { status: 'proved', queries: count };
}
