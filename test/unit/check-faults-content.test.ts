import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCaught, scratchDir, writeBaseApr, writeQ4Apr } from './check-helpers.js';
import { FAULTS, type Sources } from './check-faults.js';

/** Faults in tensor contents, the forward pass, the golden record and provenance (stages 5-10), CRC-valid. */
const MINE = FAULTS.filter((f) => Math.min(...f.expect.map((e) => e.stage)) >= 5);

let tmp: ReturnType<typeof scratchDir>;
let src: Sources;
beforeAll(() => {
  tmp = scratchDir('apr-check-content-');
  src = { base: join(tmp.dir, 'base.apr'), q4: join(tmp.dir, 'q4.apr') };
  writeBaseApr(src.base);
  writeQ4Apr(src.q4);
});
afterAll(() => tmp.cleanup());

describe(`apr check: ${MINE.length} content faults with valid CRCs and digests, each caught by its stage`, () => {
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
