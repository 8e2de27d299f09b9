import type { ArchConfig } from '../tensor/bundle.js';

/** KV-cache memory of all slots of a `BatchEngine` when none is given (`--kv-budget`). */
export const DEFAULT_KV_BUDGET = 512 * 2 ** 20;
/** Most sequences decoded together when none is given (`--parallel`). */
export const DEFAULT_PARALLEL = 16;
/** Positions per slot when none is given (capped by the model's max_position_embeddings). */
export const DEFAULT_CONTEXT = 2048;

/** The KV budget cannot hold one sequence of the context length (a usage error at the command line). */
export class KvBudgetError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'KvBudgetError';
  }
}

/** Bytes of one slot's float32 KV cache: 2 (K and V) · layers · kvHeads · headDim · ctx · 4. */
export function kvBytesPerSlot(c: ArchConfig, contextLength: number): number {
  return 2 * c.num_layers * c.num_kv_heads * c.head_dim * contextLength * 4;
}

/** How many slots fit: min(parallel, ⌊budget / bytes per slot⌋); a budget below one slot is an error. */
export function slotCount(c: ArchConfig, contextLength: number, budgetBytes: number, parallel: number): number {
  if (!Number.isInteger(parallel) || parallel < 1) throw new RangeError(`parallel must be a positive integer, got ${parallel}`);
  if (!Number.isInteger(contextLength) || contextLength < 1) throw new RangeError(`context length must be a positive integer, got ${contextLength}`);
  const per = kvBytesPerSlot(c, contextLength);
  const fit = Math.floor(budgetBytes / per);
  if (fit < 1) throw new KvBudgetError(`KV budget ${formatBytes(budgetBytes)} holds no slot: one sequence of ${contextLength} positions needs ${formatBytes(per)}`);
  return Math.min(parallel, fit);
}

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** '256M', '1.5G', '512MiB', '64k', '1048576' → bytes (binary units: K = 1024). */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$/.exec(text);
  const unit = UNITS[(m?.[2] ?? '').toUpperCase()];
  if (!m || unit === undefined) throw new RangeError(`expected a size such as 256M, 1G or 1048576, got '${text}'`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1) throw new RangeError(`size must be positive, got '${text}'`);
  return bytes;
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}
