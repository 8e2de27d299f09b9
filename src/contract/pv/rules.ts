import type { Severity } from '../yaml/diagnostic.js';

export interface LintRule {
  id: string;
  name: string;
  severity: Severity;
  description: string;
}

/** Every rule `pv validate` / `pv lint` can report. PV001–PV002 are `validate`; all are `lint`. */
export const RULES: readonly LintRule[] = [
  { id: 'PV001', name: 'yaml-parse', severity: 'error', description: 'the file is not valid YAML' },
  { id: 'PV002', name: 'schema', severity: 'error', description: 'a required field is missing or has the wrong type' },
  { id: 'PV003', name: 'id-filename', severity: 'error', description: 'metadata.id differs from the file name' },
  { id: 'PV004', name: 'duplicate-id', severity: 'error', description: 'a contract, obligation, falsification test or proof id is used twice (obligation ids are global: tests tag them)' },
  { id: 'PV005', name: 'unknown-obligation', severity: 'error', description: 'a proof or falsification test names an obligation the contract does not define' },
  { id: 'PV006', name: 'harness-missing', severity: 'error', description: 'a proof harness file is missing or does not define the proof id' },
  { id: 'PV007', name: 'untested-obligation', severity: 'error', description: 'an obligation has neither a tagged test ([ob:<id>] in a listed test file) nor a z3 proof' },
  { id: 'PV008', name: 'proof-without-test', severity: 'warning', description: 'an obligation has a z3 proof but no tagged test (the contract cannot reach L2)' },
  { id: 'PV009', name: 'test-file-missing', severity: 'error', description: 'a falsification test names a file that does not exist' },
  { id: 'PV010', name: 'test-file-untagged', severity: 'warning', description: "a falsification test's file tags none of the contract's obligations" },
  { id: 'PV011', name: 'numeric-without-tolerance', severity: 'warning', description: 'a floating-point obligation has no tolerance (error when declared numeric: true)' },
  { id: 'PV012', name: 'unknown-equation', severity: 'error', description: 'an obligation names an equation the contract does not define' },
  { id: 'PV013', name: 'unattributed-obligation', severity: 'warning', description: 'in a contract with several equations, an obligation does not say which equation it belongs to' },
  { id: 'PV014', name: 'unknown-key', severity: 'warning', description: 'a key the schema does not know (often a typo, e.g. tolerence)' },
  { id: 'PV015', name: 'equation-without-obligations', severity: 'warning', description: 'an equation has no proof obligation' },
  { id: 'PV016', name: 'no-equations', severity: 'error', description: 'the contract defines no equation' },
];

export function ruleById(id: string): LintRule | undefined {
  return RULES.find((r) => r.id === id);
}
