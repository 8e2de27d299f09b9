import type { LoadedContract } from '../yaml/load.js';
import type { ProofResults, TestResults } from './facts.js';
import type { ContractStatus } from './status.js';

export interface AuditTest {
  test: string;
  file: string;
  state: string;
}

export interface AuditProof {
  id: string;
  harness: string;
  declared: boolean;
  status: string;
  bound: number | null;
  wall_ms?: number;
  counterexample?: Record<string, string>;
  reason?: string;
}

export interface AuditObligation {
  id: string;
  type: string;
  property: string;
  formal: string;
  tolerance?: number;
  falsification: { id: string; test: string; kind?: string }[];
  tests: AuditTest[];
  proofs: AuditProof[];
}

export interface Audit {
  contract: string;
  file: string;
  level: number;
  missing: string[];
  equations: { name: string; formula: string; domain: string; codomain: string; boundTo: string[]; obligations: AuditObligation[] }[];
  /** Obligations attributed to no equation (multi-equation contract without `equation:`). */
  unattributed: AuditObligation[];
}

function auditObligation(c: LoadedContract, id: string, tests: TestResults | undefined, proofs: ProofResults | undefined): AuditObligation {
  const o = c.doc.proof_obligations.find((x) => x.id === id);
  const declared = (c.doc.proofs ?? []).filter((p) => p.obligation === id);
  const results = (proofs?.results ?? []).filter((r) => r.contract === c.id && r.obligation === id);
  const proofIds = [...new Set([...declared.map((p) => p.id), ...results.map((r) => r.id)])];
  return {
    id,
    type: o?.type ?? '?',
    property: o?.property ?? '',
    formal: o?.formal ?? '',
    ...(o?.tolerance !== undefined ? { tolerance: o.tolerance } : {}),
    falsification: c.doc.falsification_tests.filter((t) => (t.obligations ?? []).includes(id) || tests?.results.some((r) => r.obligation === id && r.file === t.test)).map((t) => ({ id: t.id, test: t.test, ...(t.kind ? { kind: t.kind } : {}) })),
    tests: (tests?.results ?? []).filter((r) => r.obligation === id).map((r) => ({ test: r.test, file: r.file, state: r.state })),
    proofs: proofIds.map((pid) => {
      const d = declared.find((p) => p.id === pid);
      const r = results.find((x) => x.id === pid);
      return {
        id: pid,
        harness: r?.harness ?? d?.harness ?? '?',
        declared: d !== undefined,
        status: r ? r.status : 'not run',
        bound: r?.bound ?? d?.bound ?? null,
        ...(r ? { wall_ms: r.wall_ms } : {}),
        ...(r?.counterexample ? { counterexample: r.counterexample } : {}),
        ...(r?.reason ? { reason: r.reason } : {}),
      };
    }),
  };
}

/** Traceability of one contract: equation → obligations → tests and proofs → the code bound to it. */
export function auditContract(c: LoadedContract, status: ContractStatus, tests: TestResults | undefined, proofs: ProofResults | undefined): Audit {
  const obs = new Map(status.obligations.map((o) => [o.id, auditObligation(c, o.id, tests, proofs)]));
  const pick = (ids: readonly string[]): AuditObligation[] => ids.flatMap((i) => obs.get(i) ?? []);
  return {
    contract: c.id,
    file: c.file,
    level: status.level,
    missing: status.missing,
    equations: status.equations.map((e) => {
      const eq = c.doc.equations[e.name];
      return { name: e.name, formula: eq?.formula ?? '', domain: eq?.domain ?? '', codomain: eq?.codomain ?? '', boundTo: e.bindings, obligations: pick(e.obligations) };
    }),
    unattributed: pick(status.obligations.filter((o) => o.equation === undefined).map((o) => o.id)),
  };
}

function obligationLines(o: AuditObligation): string[] {
  const lines = [`    obligation ${o.id} (${o.type}${o.tolerance !== undefined ? `, tolerance ${o.tolerance}` : ''}): ${o.property}`, `      formal: ${o.formal}`];
  if (o.tests.length === 0) lines.push('      tests: none recorded');
  for (const t of o.tests) lines.push(`      test ${t.state}: ${t.file} › ${t.test}`);
  if (o.proofs.length === 0) lines.push('      proofs: none');
  for (const p of o.proofs) {
    const cx = p.counterexample ? ` counterexample ${Object.entries(p.counterexample).map(([k, v]) => `${k}=${v}`).join(' ')}` : '';
    lines.push(`      proof ${p.id} (${p.harness}${p.declared ? '' : ', not declared in the YAML'}): ${p.status}, bound ${p.bound ?? 'none (complete)'}${p.wall_ms !== undefined ? `, ${(p.wall_ms / 1000).toFixed(1)} s` : ''}${p.reason ? ` — ${p.reason}` : ''}${cx}`);
  }
  return lines;
}

export function auditText(a: Audit): string {
  const lines = [`contract ${a.contract} (${a.file}): level L${a.level}`];
  for (const e of a.equations) {
    lines.push(`  equation ${e.name}: ${e.formula}`, `    domain ${e.domain} → codomain ${e.codomain}`);
    lines.push(e.boundTo.length ? `    bound to: ${e.boundTo.join(', ')}` : '    bound to: nothing (not bound)');
    if (e.obligations.length === 0) lines.push('    no obligations');
    for (const o of e.obligations) lines.push(...obligationLines(o));
  }
  if (a.unattributed.length) lines.push('  obligations not attributed to an equation:', ...a.unattributed.flatMap(obligationLines));
  if (a.missing.length) lines.push(`  for L${a.level + 1}:`, ...a.missing.map((m) => `    - ${m}`));
  return `${lines.join('\n')}\n`;
}
