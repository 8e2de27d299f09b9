import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditContract, auditText, proofStatus, readBindings, readProofResults, readTestResults, statusText, type StatusReport } from '../../src/contract/pv/index.js';
import { loadContracts } from '../../src/contract/yaml/load.js';
import { makeStatusProject } from './pv-helpers.js';

const root = makeStatusProject();
afterAll(() => rmSync(root, { recursive: true, force: true }));

function status(): StatusReport {
  const { contracts } = loadContracts(join(root, 'contracts'), root);
  return proofStatus({ root, contracts, bindings: readBindings(root), tests: readTestResults(root), proofs: readProofResults(root) });
}

describe('pv proof-status levels (DESIGN.md L1..L5) from facts', () => {
  const report = status();
  const of = (id: string) => report.contracts.find((c) => c.id === id);

  it('assigns each fixture contract the level its facts support', () => {
    expect(Object.fromEntries(report.contracts.map((c) => [c.id, c.level]))).toEqual({ 'alpha-v1': 5, 'beta-v1': 2, 'delta-v1': 0, 'eps-v1': 3, 'gamma-v1': 1, 'zeta-v1': 2 });
  });

  it('says what blocks the next level', () => {
    expect(of('delta-v1')?.missing).toEqual(['equation f is not bound to code']);
    expect(of('gamma-v1')?.missing).toEqual(['obligation gamma-a: 1 test(s) failed']);
    expect(of('beta-v1')?.missing).toEqual(['obligation beta-a: proof refuted']);
    expect(of('zeta-v1')?.missing).toEqual(['obligation zeta-a: proof stale (harness changed)']);
    expect(of('eps-v1')?.missing).toEqual(['no passed differential test (test/golden/ or kind: golden)']);
    expect(of('alpha-v1')?.missing).toEqual([]);
  });

  it('marks a level reached only because nothing was decidable', () => {
    expect(of('eps-v1')?.vacuous).toEqual(['L3: no z3-decidable obligation declared']);
    expect(of('alpha-v1')?.vacuous).toEqual([]);
  });

  it('counts obligations, proofs and the honest denominator of exported ops and kernels', () => {
    const t = report.totals;
    expect(t.byLevel).toEqual({ L0: 1, L1: 1, L2: 2, L3: 1, L4: 0, L5: 1 });
    expect([t.obligations, t.obligationsTested, t.obligationsDecidable, t.obligationsProved]).toEqual([7, 6, 3, 1]);
    expect(t.proofs).toEqual({ proved: 1, refuted: 1, unknown: 0, stale: 1 });
    // zeta is bound in src/model (not an op or kernel); delta is bound nowhere; 6 exported ops/kernels in all.
    expect(t.exportedOpsAndKernels).toBe(6);
    expect(t.boundOpsAndKernels).toBe(4);
    expect(t.opsAndKernelsAtLeast).toEqual({ L1: 4, L2: 3, L3: 2, L4: 1, L5: 1 });
  });

  it('gives each obligation its own level: L0 unbound, L1 untested or failing, L2 tested, L3 tested and proved, L4 and differential', () => {
    const levels = Object.fromEntries(report.contracts.flatMap((c) => c.obligations.map((o) => [o.id, o.level])));
    // alpha-a: passed + fresh proof; alpha-b: passed (golden too) but nothing to prove; beta-a: proof refuted;
    // gamma-a: a failed run; delta-a: its equation is bound nowhere; eps-a: passed, undecidable; zeta-a: stale proof.
    expect(levels).toEqual({ 'alpha-a': 3, 'alpha-b': 2, 'beta-a': 2, 'gamma-a': 1, 'delta-a': 0, 'eps-a': 2, 'zeta-a': 2 });
    expect(report.totals.obligationsAtLeast).toEqual({ L1: 6, L2: 5, L3: 1, L4: 0 });
  });

  it('lists proof results for obligations that no contract defines instead of counting them', () => {
    const { contracts } = loadContracts(join(root, 'contracts'), root);
    const proofs = readProofResults(root);
    if (!proofs) throw new Error('fixture missing');
    const stray = { ...proofs.results[0], id: 'PF-stray', contract: 'alpha-v1', obligation: 'alpha-z' } as (typeof proofs.results)[number];
    const r = proofStatus({ root, contracts, bindings: readBindings(root), tests: readTestResults(root), proofs: { ...proofs, results: [...proofs.results, stray] } });
    expect(r.undeclaredProofs).toEqual([{ id: 'PF-stray', contract: 'alpha-v1', obligation: 'alpha-z', status: 'proved' }]);
    expect(r.totals.proofs.proved).toBe(1);
  });

  it('prints a table with the totals', () => {
    const text = statusText(report);
    expect(text).toMatch(/^alpha-v1\s+L5\s/m);
    expect(text).toMatch(/^eps-v1\s+L3\*\s/m);
    expect(text).toContain('exported ops and kernels: 6; bound to a contract 4 (67%)');
  });

  it('a harness edited after its proof ran makes the result stale; re-recording it restores the level', () => {
    writeFileSync(join(root, 'proofs/alpha.ts'), 'export const proofs = []; // edited\n');
    expect(status().contracts.find((c) => c.id === 'alpha-v1')?.level).toBe(2);
    writeFileSync(join(root, 'proofs/alpha.ts'), 'export const proofs = []; // alpha\n');
    expect(status().contracts.find((c) => c.id === 'alpha-v1')?.level).toBe(5);
  });

  it('without binding.json every contract is L0 and the denominator is unknown (0)', () => {
    const { contracts } = loadContracts(join(root, 'contracts'), root);
    const r = proofStatus({ root, contracts, bindings: { contracts: [], unbound: [], exported_ops_and_kernels: 0, present: false }, tests: readTestResults(root), proofs: readProofResults(root) });
    expect(r.contracts.every((c) => c.level === 0)).toBe(true);
    expect(statusText(r)).toContain('binding MISSING');
  });

  it('audit traces equation → obligations → tests and proofs → bound code', () => {
    const { contracts } = loadContracts(join(root, 'contracts'), root);
    const c = contracts.find((x) => x.id === 'beta-v1');
    const s = report.contracts.find((x) => x.id === 'beta-v1');
    if (!c || !s) throw new Error('fixture missing');
    const a = auditContract(c, s, readTestResults(root), readProofResults(root));
    expect(a.equations[0]?.boundTo).toEqual(['src/kernels/beta.ts#beta']);
    expect(a.equations[0]?.obligations[0]?.proofs[0]).toMatchObject({ id: 'PF-beta', status: 'refuted', declared: true, counterexample: { x: '3' } });
    expect(a.equations[0]?.obligations[0]?.tests).toEqual([{ test: 'beta-a test [ob:beta-a]', file: 'test/beta.test.ts', state: 'passed' }]);
    expect(auditText(a)).toMatch(/proof PF-beta \(proofs\/beta\.ts\): refuted, bound 8.*counterexample x=3/);
  });
});
