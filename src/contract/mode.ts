export type ContractMode = 'off' | 'pre' | 'full';

/** Reads APR_CONTRACTS once per call site so tests can switch modes at run time. Default `pre`. */
export function contractMode(): ContractMode {
  const raw = process.env['APR_CONTRACTS'];
  if (raw === 'off' || raw === 'pre' || raw === 'full') return raw;
  return 'pre';
}
