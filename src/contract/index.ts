export { defineContract, registeredContracts } from './define.js';
export type { Contract, ContractSpec } from './define.js';
export { contract } from './decorator.js';
export { ContractViolation } from './violation.js';
export { contractMode, setContractMode } from './mode.js';
export type { ContractMode } from './mode.js';
