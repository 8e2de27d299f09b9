export { contractFiles, loadContractFile, loadContracts } from './load.js';
export type { LoadedContract, LoadResult, YamlPath } from './load.js';
export { ContractYamlSchema, EquationSchema, FalsificationTestSchema, KNOWN_KEYS, MetadataSchema, OBLIGATION_TYPES, ObligationSchema, ProofSchema, TEST_KINDS } from './schema.js';
export type { ContractYaml, Equation, FalsificationTest, Obligation, ProofEntry } from './schema.js';
export type { Diagnostic, Severity } from './diagnostic.js';
