import { describe, expect, it } from 'vitest';
import { DTYPES, isDType } from '../../src/tensor/dtype.js';

describe('isDType', () => {
  it('accepts exactly the names in DTYPES, case-sensitively', () => {
    for (const name of ['F32', 'F16', 'BF16', 'Q4_K', 'Q8_0', 'NF4', 'APR_Q4']) expect(isDType(name), name).toBe(Object.hasOwn(DTYPES, name));
    expect(isDType('Q4_K')).toBe(true);
    expect(isDType('q4_k')).toBe(false);
    expect(isDType('F8')).toBe(false);
    expect(isDType('')).toBe(false);
  });

  it('does not accept inherited object keys', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(isDType(name), name).toBe(false);
  });
});
