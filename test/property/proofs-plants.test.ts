/**
 * Each proof can fail: with its planted bug injected (a wrong shift, a wrong stride, a missing term...), the
 * same harness must come back `refuted` with a counterexample that exhibits the bug.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverProofs } from '../../src/contract/pv/prove.js';
import { openZ3, type Z3Handle } from '../../src/contract/pv/z3-session.js';

const all = await discoverProofs(process.cwd());
const planted = all.flatMap((p) => Object.keys(p.harness.plants).map((plant) => [`${p.harness.id} with '${plant}'`, p, plant] as const));
let z3: Z3Handle;

beforeAll(async () => {
  z3 = await openZ3();
});
afterAll(async () => {
  await z3.close();
});

describe('planted bugs are refuted', () => {
  it.each(planted)('%s', async (_name, p, plant) => {
    const r = await p.harness.run(z3.session(60_000), { bound: p.harness.bound ?? 0, timeoutMs: 60_000, plant });
    expect(r.status, r.reason).toBe('refuted');
    expect(Object.keys(r.counterexample ?? {}).length).toBeGreaterThan(0);
  });

  it('a few counterexamples are the expected ones', async () => {
    const byId = (id: string) => all.find((p) => p.harness.id === id);
    const nibble = byId('PF-q4_0-nibble-bijection');
    const r = await nibble?.harness.run(z3.session(60_000), { bound: 0, timeoutMs: 60_000, plant: 'hi-shift-3' });
    // With q >> 3 the high nibble keeps bit 3 of the low one: re-packing loses exactly the bytes with bit 3 set.
    const q = Number(r?.counterexample?.['q']);
    expect(((q >> 3) << 4 | (q & 15)) & 0xff).not.toBe(q);
    const align = byId('PF-apr-align64');
    const a = await align?.harness.run(z3.session(60_000), { bound: 2, timeoutMs: 60_000, plant: 'int32-bitwise' });
    expect(Number(a?.counterexample?.['n'])).toBeGreaterThanOrEqual(2 ** 31 - 63);
  });
});
