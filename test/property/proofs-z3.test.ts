/**
 * Every z3 harness in proofs/ proves its obligation (unsat of the negated claim within the per-query timeout).
 * The results are recorded in .pv/proof-results.json like `pv prove` does, so that `pv proof-status` after
 * `npm test` reads them. The planted-bug counterparts are in proofs-plants.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProofResult } from '../../src/contract/pv/facts.js';
import { recordProofResults } from '../../src/contract/pv/facts.js';
import { discoverProofs, proveOne, type DiscoveredProof } from '../../src/contract/pv/prove.js';
import { openZ3, type Z3Handle } from '../../src/contract/pv/z3-session.js';

const root = process.cwd();
const all: DiscoveredProof[] = await discoverProofs(root);
const results: ProofResult[] = [];
let z3: Z3Handle;

beforeAll(async () => {
  z3 = await openZ3();
});
afterAll(async () => {
  if (results.length > 0) recordProofResults(root, results, z3.version);
  await z3.close();
});

describe('z3 proofs', () => {
  it('there are at least 12 of them, each with a planted bug, one obligation each', () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const p of all) expect(Object.keys(p.harness.plants).length, p.harness.id).toBeGreaterThan(0);
    expect(new Set(all.map((p) => p.harness.obligation)).size).toBe(all.length);
  });

  it.each(all.map((p) => [p.harness.id, p] as const))('%s is proved', async (_id, p) => {
    const r = await proveOne(z3, p, { root, timeoutS: 60 });
    results.push(r);
    expect(r.status, r.reason ?? JSON.stringify(r.counterexample)).toBe('proved');
    expect(r.queries).toBeGreaterThan(0);
  });
});
