import type { LoadedContract } from '../yaml/load.js';
import type { BindingRegistry, ProofResult, ProofResults, TestResults } from './facts.js';
import { harnessDigest } from './prove.js';

export type Level = 0 | 1 | 2 | 3 | 4 | 5;

export interface ObligationStatus {
  id: string;
  equation: string | undefined;
  tests: { passed: number; failed: number; skipped: number; differentialPassed: number; differentialFailed: number };
  /** Results of proofs of this obligation whose harness is unchanged since they ran. */
  proofs: { proved: number; refuted: number; unknown: number; stale: number; declared: string[] };
  tested: boolean;
  /**
   * The obligation's own level: 1 declared under a bound equation, 2 a passing tagged test (none failing),
   * 3 that and a z3 proof (only decidable obligations can get one), 4 that and a passing differential test.
   */
  level: Level;
  /** Declared decidable, has a proof entry, or has a proof result. */
  decidable: boolean;
  proved: boolean;
}

export interface ContractStatus {
  id: string;
  file: string;
  level: Level;
  /** Levels reached only because nothing applied (e.g. L3 with no z3-decidable obligation). */
  vacuous: string[];
  /** Why the next level is not reached. */
  missing: string[];
  equations: { name: string; bindings: string[]; obligations: string[] }[];
  obligations: ObligationStatus[];
}

export interface StatusReport {
  sources: { binding: boolean; exportedOpsAndKernels: number; tests: string | null; proofs: string | null };
  contracts: ContractStatus[];
  /** Proof results whose contract/obligation pair no YAML defines: facts that count toward no level. */
  undeclaredProofs: { id: string; contract: string; obligation: string; status: string }[];
  totals: {
    contracts: number;
    byLevel: Record<`L${Level}`, number>;
    obligations: number;
    obligationsTested: number;
    obligationsDecidable: number;
    obligationsProved: number;
    /** Obligations whose own level (ObligationStatus.level) is at or above Lk, over `obligations`. */
    obligationsAtLeast: Record<'L1' | 'L2' | 'L3' | 'L4', number>;
    proofs: { proved: number; refuted: number; unknown: number; stale: number };
    /** The honest denominator: every exported op and kernel, contracted or not. */
    exportedOpsAndKernels: number;
    boundOpsAndKernels: number;
    /** Exported ops/kernels whose contract is at or above Lk (k = 1..5), over `exportedOpsAndKernels`. */
    opsAndKernelsAtLeast: Record<`L${Exclude<Level, 0>}`, number>;
  };
}

export interface StatusInput {
  root: string;
  contracts: readonly LoadedContract[];
  bindings: BindingRegistry & { present: boolean };
  tests: TestResults | undefined;
  proofs: ProofResults | undefined;
}

const GUARDED = ['src/ops/', 'src/kernels/'];

function attribute(c: LoadedContract): Map<string, string | undefined> {
  const names = Object.keys(c.doc.equations);
  return new Map(c.doc.proof_obligations.map((o) => [o.id, o.equation ?? (names.length === 1 ? names[0] : undefined)]));
}

function differentialFiles(c: LoadedContract): Set<string> {
  return new Set(c.doc.falsification_tests.filter((t) => t.kind === 'golden' || t.kind === 'differential').map((t) => t.test));
}

function obligationStatus(c: LoadedContract, id: string, equation: string | undefined, input: StatusInput, fresh: (r: ProofResult) => boolean): ObligationStatus {
  const diff = differentialFiles(c);
  const results = (input.tests?.results ?? []).filter((r) => r.obligation === id);
  const isDiff = (file: string): boolean => file.startsWith('test/golden/') || diff.has(file);
  const count = (pred: (r: (typeof results)[number]) => boolean): number => results.filter(pred).length;
  const tests = {
    passed: count((r) => r.state === 'passed'),
    failed: count((r) => r.state === 'failed'),
    skipped: count((r) => r.state !== 'passed' && r.state !== 'failed'),
    differentialPassed: count((r) => r.state === 'passed' && isDiff(r.file)),
    differentialFailed: count((r) => r.state === 'failed' && isDiff(r.file)),
  };
  const mine = (input.proofs?.results ?? []).filter((r) => r.contract === c.id && r.obligation === id);
  const live = mine.filter(fresh);
  const proofs = {
    proved: live.filter((r) => r.status === 'proved').length,
    refuted: live.filter((r) => r.status === 'refuted').length,
    unknown: live.filter((r) => r.status === 'unknown' || r.status === 'error').length,
    stale: mine.length - live.length,
    declared: (c.doc.proofs ?? []).filter((p) => p.obligation === id).map((p) => p.id),
  };
  const ob = c.doc.proof_obligations.find((o) => o.id === id);
  const decidable = ob?.decidable === true || proofs.declared.length > 0 || mine.length > 0;
  const tested = tests.passed > 0 && tests.failed === 0;
  const proved = decidable && proofs.proved > 0 && proofs.refuted === 0;
  return { id, equation, tests, proofs, tested, level: obligationLevel(tested, proved, tests), decidable, proved };
}

function obligationLevel(tested: boolean, proved: boolean, tests: ObligationStatus['tests']): Level {
  if (!tested) return 1;
  if (!proved) return 2;
  return tests.differentialPassed > 0 && tests.differentialFailed === 0 ? 4 : 3;
}

interface LevelCheck {
  ok: boolean;
  vacuous?: boolean;
  missing: string[];
}

function levelChecks(eqs: ContractStatus['equations'], obs: readonly ObligationStatus[]): LevelCheck[] {
  const unbound = eqs.filter((e) => e.bindings.length === 0).map((e) => `equation ${e.name} is not bound to code`);
  const l1 = { ok: eqs.length > 0 && unbound.length === 0, missing: eqs.length === 0 ? ['no equations'] : unbound };
  const untested = obs.filter((o) => !o.tested).map((o) => `obligation ${o.id}: ${o.tests.failed > 0 ? `${o.tests.failed} test(s) failed` : 'no passed test'}`);
  const l2 = { ok: obs.length > 0 && untested.length === 0, missing: obs.length === 0 ? ['no obligations'] : untested };
  const decidable = obs.filter((o) => o.decidable);
  const unproved = decidable.filter((o) => !o.proved).map((o) => `obligation ${o.id}: ${o.proofs.refuted > 0 ? 'proof refuted' : o.proofs.unknown > 0 ? 'proof unknown (timeout)' : o.proofs.stale > 0 ? 'proof stale (harness changed)' : 'not proved'}`);
  const l3 = { ok: unproved.length === 0, vacuous: decidable.length === 0, missing: unproved };
  const diffFailed = obs.filter((o) => o.tests.differentialFailed > 0).map((o) => `obligation ${o.id}: differential test failed`);
  const hasDiff = obs.some((o) => o.tests.differentialPassed > 0);
  const l4 = { ok: hasDiff && diffFailed.length === 0, missing: hasDiff ? diffFailed : ['no passed differential test (test/golden/ or kind: golden)'] };
  const eqGaps = eqs.flatMap((e) => {
    const mine = obs.filter((o) => o.equation === e.name);
    if (mine.length === 0) return [`equation ${e.name}: no obligations`];
    return mine.some((o) => o.tests.differentialPassed > 0) ? [] : [`equation ${e.name}: no passed differential test`];
  });
  const l5 = { ok: eqGaps.length === 0, missing: eqGaps };
  return [l1, l2, l3, l4, l5];
}

function contractStatus(c: LoadedContract, input: StatusInput, fresh: (r: ProofResult) => boolean): ContractStatus {
  const owner = attribute(c);
  const obligations = c.doc.proof_obligations.map((o) => obligationStatus(c, o.id, owner.get(o.id), input, fresh));
  const equations = Object.keys(c.doc.equations).map((name) => ({
    name,
    bindings: input.bindings.contracts.filter((b) => b.contract === c.id && b.equation === name).map((b) => `${b.file}#${b.symbol}`),
    obligations: obligations.filter((o) => o.equation === name).map((o) => o.id),
  }));
  // An obligation that names no equation (several in the contract) stands on all of them being bound.
  const bound = (o: ObligationStatus): boolean => (o.equation === undefined ? equations.every((e) => e.bindings.length > 0) : equations.some((e) => e.name === o.equation && e.bindings.length > 0));
  for (const o of obligations) if (!bound(o)) o.level = 0;
  const checks = levelChecks(equations, obligations);
  let level = 0;
  const vacuous: string[] = [];
  for (const [k, check] of checks.entries()) {
    if (!check.ok) break;
    level = k + 1;
    if (check.vacuous) vacuous.push(`L${level}: no z3-decidable obligation declared`);
  }
  return { id: c.id, file: c.file, level: level as Level, vacuous, missing: level < 5 ? (checks[level]?.missing ?? []) : [], equations, obligations };
}

/** Computes every contract's level from the facts (bindings, test results, proof results), with totals. */
export function proofStatus(input: StatusInput): StatusReport {
  const digests = new Map<string, string>();
  const fresh = (r: ProofResult): boolean => {
    if (!digests.has(r.harness)) digests.set(r.harness, harnessDigest(input.root, r.harness));
    return digests.get(r.harness) === r.harness_sha256;
  };
  const contracts = input.contracts.map((c) => contractStatus(c, input, fresh)).sort((a, b) => a.id.localeCompare(b.id));
  const defined = new Set(input.contracts.flatMap((c) => c.doc.proof_obligations.map((o) => `${c.id}#${o.id}`)));
  const undeclaredProofs = (input.proofs?.results ?? []).filter((r) => !defined.has(`${r.contract}#${r.obligation}`)).map((r) => ({ id: r.id, contract: r.contract, obligation: r.obligation, status: r.status }));
  return { sources: sourcesOf(input), contracts, undeclaredProofs, totals: totalsOf(input, contracts) };
}

function sourcesOf(input: StatusInput): StatusReport['sources'] {
  return { binding: input.bindings.present, exportedOpsAndKernels: input.bindings.exported_ops_and_kernels, tests: input.tests?.time ?? null, proofs: input.proofs?.time ?? null };
}

function totalsOf(input: StatusInput, contracts: readonly ContractStatus[]): StatusReport['totals'] {
  const obs = contracts.flatMap((c) => c.obligations);
  const byLevel = { L0: 0, L1: 0, L2: 0, L3: 0, L4: 0, L5: 0 };
  for (const c of contracts) byLevel[`L${c.level}`]++;
  const levelOf = new Map(contracts.map((c) => [c.id, c.level]));
  const guarded = new Map<string, number>();
  for (const b of input.bindings.contracts) {
    if (!GUARDED.some((d) => b.file.startsWith(d))) continue;
    const key = `${b.file}#${b.symbol}`;
    guarded.set(key, Math.max(guarded.get(key) ?? 0, levelOf.get(b.contract) ?? 0));
  }
  const atLeast = (k: number): number => [...guarded.values()].filter((l) => l >= k).length;
  const sum = (f: (o: ObligationStatus) => number): number => obs.reduce((a, o) => a + f(o), 0);
  return {
    contracts: contracts.length,
    byLevel,
    obligations: obs.length,
    obligationsTested: obs.filter((o) => o.tested).length,
    obligationsDecidable: obs.filter((o) => o.decidable).length,
    obligationsProved: obs.filter((o) => o.proved).length,
    obligationsAtLeast: { L1: obs.filter((o) => o.level >= 1).length, L2: obs.filter((o) => o.level >= 2).length, L3: obs.filter((o) => o.level >= 3).length, L4: obs.filter((o) => o.level >= 4).length },
    proofs: { proved: sum((o) => o.proofs.proved), refuted: sum((o) => o.proofs.refuted), unknown: sum((o) => o.proofs.unknown), stale: sum((o) => o.proofs.stale) },
    exportedOpsAndKernels: input.bindings.exported_ops_and_kernels,
    boundOpsAndKernels: guarded.size,
    opsAndKernelsAtLeast: { L1: atLeast(1), L2: atLeast(2), L3: atLeast(3), L4: atLeast(4), L5: atLeast(5) },
  };
}

/** 'L3' or '3' → 3. */
export function parseLevel(s: string): Level | undefined {
  const m = /^L?([0-5])$/i.exec(s.trim());
  return m ? (Number(m[1]) as Level) : undefined;
}
