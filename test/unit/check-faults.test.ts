import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/eval/integrity/index.js';
import { checkCaught, scratchDir, stageRange, writeBaseApr } from './check-helpers.js';
import { FAULTS, type Sources } from './check-faults.js';

/** Faults in the container, metadata, index and tokenizer (stages 1-4); check-faults-content covers 5-10. */
const MINE = FAULTS.filter((f) => Math.min(...f.expect.map((e) => e.stage)) <= 4);

let tmp: ReturnType<typeof scratchDir>;
let src: Sources;
beforeAll(() => {
  tmp = scratchDir('apr-check-faults-');
  src = { base: join(tmp.dir, 'base.apr'), q4: '' };
  writeBaseApr(src.base);
});
afterAll(() => tmp.cleanup());

describe('apr check on the fixture imported to APR', () => {
  it('the clean import (golden record, provenance) passes all ten stages [ob:check-clean-pass]', () => {
    const r = runCheck(src.base);
    expect(r.stages.map((s) => `${s.id} ${s.status}`)).toEqual(stageRange(10).map((i) => `${i} PASS`));
    expect(r.stages[0]?.details).toMatch(/header and footer CRC32 match/);
    expect(r.stages[2]?.details).toMatch(/57 SHA-256 digests match/);
    expect(r.stages[9]?.details).toMatch(/golden logits reproduced \(3 probes/);
    expect(r.stages[9]?.details).not.toMatch(/presence check only/);
    expect([r.passed, r.total, r.score, r.all_passed]).toEqual([10, 10, 100, true]);
  });
});

describe(`apr check: ${MINE.length} structural faults, each caught by its stage`, () => {
  MINE.forEach((fault, i) => {
    it(`${fault.name} → stage ${[...new Set(fault.expect.map((e) => e.stage))].join(' & ')} [ob:check-faults-caught]`, () => {
      const path = fault.plant(join(tmp.dir, `fault-${i}.apr`), src);
      try {
        expect(checkCaught(path, fault.expect, fault.forward).failures).toEqual([]);
      } finally {
        rmSync(path, { force: true });
      }
    });
  });
});
