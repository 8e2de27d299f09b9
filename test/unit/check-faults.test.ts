import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeApr } from '../../src/formats/apr/index.js';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { runCheck } from '../../src/eval/integrity/index.js';
import { tempDir } from '../helpers.js';
import { GGUF_Q4KM, writeBaseApr } from './check-helpers.js';
import { FAULTS, type Sources } from './check-faults.js';

let tmp: ReturnType<typeof tempDir>;
let src: Sources;

beforeAll(() => {
  tmp = tempDir('apr-check-faults-');
  src = { base: join(tmp.dir, 'base.apr'), q4: join(tmp.dir, 'q4.apr') };
  writeBaseApr(src.base);
  const q4 = readGgufBundle(GGUF_Q4KM);
  try {
    writeApr(q4, src.q4);
  } finally {
    q4.tensors.close();
  }
});
afterAll(() => tmp.cleanup());

const range = (n: number): number[] => Array.from({ length: n }, (_x, i) => i + 1);

describe('apr check: the clean import passes', () => {
  it('the fixture imported to APR with a golden record passes all ten stages [ob:check-clean-pass]', () => {
    const r = runCheck(src.base);
    expect(r.stages.map((s) => `${s.id} ${s.status}`)).toEqual(range(10).map((i) => `${i} PASS`));
    expect(r.stages[9]?.details).toMatch(/golden logits reproduced \(3 probes/);
    expect(r.stages[2]?.details).toMatch(/57 SHA-256 digests match/);
    expect(r.score).toBe(100);
  });
});

describe(`apr check: ${FAULTS.length} planted faults, each caught by its stage`, () => {
  expect(new Set(FAULTS.map((f) => f.name)).size).toBe(FAULTS.length);
  FAULTS.forEach((fault, i) => {
    it(`${fault.name} → stage ${[...new Set(fault.expect.map((e) => e.stage))].join(' & ')} [ob:check-faults-caught]`, () => {
      const path = fault.plant(join(tmp.dir, `fault-${i}.apr`), src);
      const first = Math.min(...fault.expect.map((e) => e.stage));
      const last = Math.max(...fault.expect.map((e) => e.stage));
      const r = runCheck(path, { stages: range(last), forward: fault.forward ?? false });
      for (const e of fault.expect) {
        const s = r.stages.find((x) => x.id === e.stage);
        expect(s?.status, `stage ${e.stage}: ${s?.details}`).toBe('FAIL');
        expect(s?.details).toMatch(e.re);
      }
      for (const s of r.stages.filter((x) => x.id < first)) expect(s.status, `stage ${s.id} should not fail: ${s.details}`).not.toBe('FAIL');
      expect(r.all_passed).toBe(false);
    });
  });
});
