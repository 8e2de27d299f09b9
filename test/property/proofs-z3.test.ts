/**
 * Every z3 harness in proofs/ proves its obligation (unsat of the negated claim within the per-query timeout).
 * The planted-bug counterparts, which show that each proof can fail, are in proofs-plants.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverProofs, type DiscoveredProof } from '../../src/contract/pv/prove.js';
import { openZ3, type Z3Handle } from '../../src/contract/pv/z3-session.js';

const root = process.cwd();
const all: DiscoveredProof[] = await discoverProofs(root);
let z3: Z3Handle;

beforeAll(async () => {
  z3 = await openZ3();
});
afterAll(async () => {
  await z3.close();
});

describe('z3 proofs', () => {
  it('there are at least 12 of them, each with a planted bug', () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const p of all) expect(Object.keys(p.harness.plants).length, p.harness.id).toBeGreaterThan(0);
    expect(new Set(all.map((p) => p.harness.obligation)).size).toBe(all.length);
  });

  it.each(all.map((p) => [p.harness.id, p] as const))('%s is proved', async (_id, p) => {
    const r = await p.harness.run(z3.session(60_000), { bound: p.harness.bound ?? 0, timeoutMs: 60_000 });
    expect(r.status, r.reason ?? JSON.stringify(r.counterexample)).toBe('proved');
    expect(r.queries).toBeGreaterThan(0);
  });
});
