import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readApr, writeApr } from '../../src/formats/apr/index.js';
import { FormatError } from '../../src/formats/errors.js';
import { pathLabel, provenanceEntry, sourceDateTime } from '../../src/formats/provenance.js';
import { synthBundle } from './apr-helpers.js';
import { tempDir } from '../helpers.js';

const tmp = tempDir('apr-provenance-');
afterAll(() => tmp.cleanup());

describe('reproducible provenance entries', () => {
  it('take the time from SOURCE_DATE_EPOCH (UTC ISO 8601), else record none', () => {
    expect(sourceDateTime({})).toBeUndefined();
    expect(sourceDateTime({ SOURCE_DATE_EPOCH: '' })).toBeUndefined();
    expect(sourceDateTime({ SOURCE_DATE_EPOCH: '0' })).toBe('1970-01-01T00:00:00.000Z');
    expect(sourceDateTime({ SOURCE_DATE_EPOCH: '1700000000', TZ: 'Asia/Kolkata' })).toBe('2023-11-14T22:13:20.000Z');
    const base = { op: 'import', options: {}, inputDigests: [], toolVersion: 'apr 0.1.0' };
    expect(provenanceEntry(base, {})).toEqual(base);
    expect(provenanceEntry(base, {})).not.toHaveProperty('time');
    expect(provenanceEntry(base, { SOURCE_DATE_EPOCH: '86400' })).toEqual({ ...base, time: '1970-01-02T00:00:00.000Z' });
  });

  it('refuse a malformed SOURCE_DATE_EPOCH with a one-line error naming it', () => {
    for (const bad of ['yesterday', '-1', '1.5', '1e9', ' 1', '9'.repeat(16)]) {
      expect(() => sourceDateTime({ SOURCE_DATE_EPOCH: bad }), bad).toThrow(FormatError);
    }
    expect(() => sourceDateTime({ SOURCE_DATE_EPOCH: 'now' })).toThrow(/SOURCE_DATE_EPOCH: expected whole seconds since 1970-01-01 UTC .* got 'now'/);
  });

  it('name inputs by file name, never by their path', () => {
    expect(pathLabel('/home/me/models/tiny-coder-llama')).toBe('tiny-coder-llama');
    expect(pathLabel('/home/me/models/tiny-coder-llama/')).toBe('tiny-coder-llama');
    expect(pathLabel('models/a.apr')).toBe('a.apr');
    expect(pathLabel('a.apr')).toBe('a.apr');
    expect(pathLabel('init:/tmp/x/draft.apr')).toBe('init:draft.apr');
  });

  it('APR files with and without a provenance time both read back (older files carry one)', () => {
    const timed = join(tmp.dir, 'timed.apr');
    const untimed = join(tmp.dir, 'untimed.apr');
    const entry = { op: 'import', options: { from: 'memory' }, inputDigests: [`sha256:${'ab'.repeat(32)}`], toolVersion: 'apr 0.1.0' };
    writeApr(synthBundle(), timed, { provenance: { ...entry, time: '2025-01-01T00:00:00.000Z' } });
    writeApr(synthBundle(), untimed, { provenance: entry });
    const provenanceOf = (path: string): unknown => {
      const b = readApr(path);
      b.tensors.close();
      return b.provenance;
    };
    expect(provenanceOf(timed)).toEqual([{ ...entry, time: '2025-01-01T00:00:00.000Z' }]);
    expect(provenanceOf(untimed)).toEqual([entry]);
  });
});
