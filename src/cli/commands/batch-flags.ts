import type { Command } from 'commander';
import { DEFAULT_PARALLEL, KvBudgetError, parseByteSize } from '../../model/batch-budget.js';
import type { BatchEngineOptions } from '../../model/batch-decoder.js';
import { CliError } from '../output.js';
import { intOption } from '../program.js';

/** Flags of the continuous-batching engine (`apr run --batch-jsonl`, `apr eval --n-samples`). */
export interface BatchFlags {
  parallel?: number;
  kvBudget?: string;
}

export function addBatchFlags(cmd: Command, what: string): Command {
  return cmd
    .option('--parallel <n>', `${what}: most sequences decoded together (continuous batching; default ${DEFAULT_PARALLEL})`, intOption('--parallel'))
    .option('--kv-budget <size>', `${what}: KV-cache memory for all sequences, e.g. 256M (default 512M); sequences in flight = min(--parallel, budget / (2·layers·kv_heads·head_dim·context·4 bytes))`);
}

export function engineOptions(f: BatchFlags): BatchEngineOptions {
  if (f.parallel !== undefined && f.parallel < 1) throw new CliError(`--parallel must be ≥ 1, got ${f.parallel}`);
  let kvBudget: number | undefined;
  try {
    kvBudget = f.kvBudget === undefined ? undefined : parseByteSize(f.kvBudget);
  } catch (err) {
    throw new CliError(`--kv-budget: ${(err as Error).message}`);
  }
  return { ...(f.parallel !== undefined ? { parallel: f.parallel } : {}), ...(kvBudget !== undefined ? { kvBudget } : {}) };
}

/** A KV budget that holds no sequence becomes a usage error (exit 2); anything else passes through. */
export function usageError(err: unknown): never {
  if (err instanceof KvBudgetError) throw new CliError(`--kv-budget: ${err.message}`);
  throw err;
}
