export type ContractMode = 'off' | 'pre' | 'full';

function parse(raw: string | undefined): ContractMode {
  return raw === 'off' || raw === 'pre' || raw === 'full' ? raw : 'pre';
}

/** The mode, read from APR_CONTRACTS once (a process.env read costs about a microsecond, and every kernel call asks). */
let current: ContractMode | undefined;

/** The run-time contract mode: APR_CONTRACTS=off|pre|full, default `pre`. */
export function contractMode(): ContractMode {
  return (current ??= parse(process.env['APR_CONTRACTS']));
}

/**
 * Switches the mode for the rest of this process and, through APR_CONTRACTS, for the processes it starts;
 * undefined removes APR_CONTRACTS (back to the default).
 */
export function setContractMode(mode: ContractMode | undefined): void {
  if (mode === undefined) delete process.env['APR_CONTRACTS'];
  else process.env['APR_CONTRACTS'] = mode;
  current = parse(mode);
}
