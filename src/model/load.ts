import { cpuBackend } from '../kernels/cpu/index.js';
import type { Backend, WeightMatrix } from '../kernels/types.js';
import { type ArchConfig, ArchConfigSchema, type ModelBundle } from '../tensor/bundle.js';
import { FormatError } from '../formats/errors.js';
import { archConfigProblems } from '../tensor/arch.js';
import { missingKernels } from './arch-plan.js';
import { createDecoder, type DecoderOptions, type Model } from './decoder.js';
import { loadDecoderWeights, type WeightLoadOptions } from './weights.js';

export interface LoadModelOptions<B = Float32Array, W = WeightMatrix> extends WeightLoadOptions, DecoderOptions {
  /** Compute backend (default: the CPU backend). */
  backend?: Backend<B, W>;
}

function checkConfig(bundle: ModelBundle): ArchConfig {
  const parsed = ArchConfigSchema.safeParse(bundle.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FormatError(bundle.source.path, `config.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const c = parsed.data;
  if (c.num_heads % c.num_kv_heads !== 0) throw new FormatError(bundle.source.path, 'config.num_kv_heads', `${c.num_kv_heads} does not divide num_heads ${c.num_heads}`);
  if (c.head_dim % 2 !== 0) throw new FormatError(bundle.source.path, 'config.head_dim', `RoPE needs an even head_dim, got ${c.head_dim}`);
  const problem = archConfigProblems(c)[0];
  if (problem !== undefined) throw new FormatError(bundle.source.path, `config.${problem.slice(0, problem.indexOf(':'))}`, problem.slice(problem.indexOf(':') + 2));
  return c;
}

/**
 * Reads all weights of a bundle (any architecture of src/tensor/arch.ts) into memory and returns a ready
 * model. Throws when the backend lacks a kernel option the architecture needs (see `missingKernels`).
 */
export function loadModel(bundle: ModelBundle, opts?: LoadModelOptions): Model;
export function loadModel<B, W>(bundle: ModelBundle, opts: LoadModelOptions<B, W> & { backend: Backend<B, W> }): Model;
export function loadModel<B, W>(bundle: ModelBundle, opts: LoadModelOptions<B, W> = {}): Model {
  const config = checkConfig(bundle);
  const backend = (opts.backend ?? cpuBackend) as Backend<B, W>;
  const missing = missingKernels(config, backend);
  if (missing.length > 0) throw new Error(`the ${backend.name} backend cannot run ${config.architecture}: it lacks ${missing.join(', ')}`);
  const weights = loadDecoderWeights(bundle, backend, opts);
  return createDecoder(config, weights, backend, opts);
}
