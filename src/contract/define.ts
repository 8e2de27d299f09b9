import { contractMode } from './mode.js';
import { ContractViolation } from './violation.js';


export interface ContractSpec<I, O> {
  /** Matches `contracts/<id>.yaml`. */
  id: string;
  /** The equation name in that YAML's `equations` map. */
  equation: string;
  /** The mathematical statement, human readable. */
  spec: string;
  pre?: readonly (readonly [string, (input: I) => boolean])[];
  post?: readonly (readonly [string, (input: I, output: O) => boolean])[];
}

export interface Contract<I, O> extends ContractSpec<I, O> {
  checkPre(input: I): void;
  checkPost(input: I, output: O): void;
  /** Runs `fn` with the contract's checks according to APR_CONTRACTS. */
  run(input: I, fn: () => O): O;
}

const registry = new Map<string, Contract<never, never>>();

export function defineContract<I, O>(spec: ContractSpec<I, O>): Contract<I, O> {
  const contract: Contract<I, O> = {
    ...spec,
    checkPre(input: I): void {
      for (const [name, check] of spec.pre ?? []) {
        if (!check(input)) throw new ContractViolation(spec.id, 'pre', name, input);
      }
    },
    checkPost(input: I, output: O): void {
      for (const [name, check] of spec.post ?? []) {
        if (!check(input, output)) throw new ContractViolation(spec.id, 'post', name, { input, output });
      }
    },
    run(input: I, fn: () => O): O {
      const mode = contractMode();
      if (mode !== 'off') contract.checkPre(input);
      const out = fn();
      if (mode === 'full') contract.checkPost(input, out);
      return out;
    },
  };
  registry.set(spec.id, contract as unknown as Contract<never, never>);
  return contract;
}

/** Every contract defined so far in this process (those whose modules were imported). */
export function registeredContracts(): readonly string[] {
  return [...registry.keys()].sort();
}
