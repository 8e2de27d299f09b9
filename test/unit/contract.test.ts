import { afterEach, describe, expect, it } from 'vitest';
import { ContractViolation, contract, contractMode, defineContract, setContractMode } from '../../src/contract/index.js';

const sqrtContract = defineContract<{ x: number }, number>({
  id: 'test-sqrt-v1',
  equation: 'sqrt',
  spec: 'y = √x, y ≥ 0, y² = x',
  pre: [['x ≥ 0', ({ x }) => x >= 0]],
  post: [['y² ≈ x', ({ x }, y) => Math.abs(y * y - x) <= 1e-9 * Math.max(1, x)]],
});

class Maths {
  @contract(sqrtContract, (x: number) => ({ x }))
  static sqrt(x: number): number {
    return Math.sqrt(x);
  }

  @contract(sqrtContract, (x: number) => ({ x }))
  static brokenSqrt(x: number): number {
    return x / 2;
  }
}

const saved = contractMode();
afterEach(() => {
  setContractMode(saved);
});

describe('contract runtime', () => {
  it('checks preconditions in pre and full modes, naming contract, clause and values', () => {
    for (const mode of ['pre', 'full'] as const) {
      setContractMode(mode);
      const err = (() => {
        try {
          Maths.sqrt(-4);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(ContractViolation);
      expect((err as ContractViolation).message).toBe(`contract test-sqrt-v1: precondition 'x ≥ 0' violated (values: {"x":-4})`);
    }
  });

  it('checks postconditions only in full mode', () => {
    setContractMode('full');
    expect(() => Maths.brokenSqrt(9)).toThrow(/postcondition 'y² ≈ x'/);
    setContractMode('pre');
    expect(Maths.brokenSqrt(9)).toBe(4.5);
  });

  it('checks nothing when off', () => {
    setContractMode('off');
    expect(Number.isNaN(Maths.sqrt(-1))).toBe(true);
  });

  it('passes correct calls through unchanged', () => {
    setContractMode('full');
    expect(Maths.sqrt(16)).toBe(4);
  });
});
