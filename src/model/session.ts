import { FormatError } from '../formats/errors.js';
import { createCpuBackend } from '../kernels/cpu/index.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { type Tokenizer, loadTokenizer } from '../tokenizer/index.js';
import { compareLogits, PARITY_MAX_REL_ERROR, PARITY_MIN_COSINE } from '../kernels/webgpu/parity.js';
import { createSyncWebGpuBackend, type SyncWebGpuOptions } from '../kernels/webgpu/sync-backend.js';
import type { Model } from './decoder.js';
import { missingKernels } from './arch-plan.js';
import { loadModel } from './load.js';

/** A model with its tokenizer, loaded once and used for many prompts. */
export interface Session {
  readonly path: string;
  readonly model: Model;
  readonly tokenizer: Tokenizer;
  readonly loadMs: number;
}

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** `webgpu` was asked for and no usable adapter exists (the message says why, in one line). */
export class BackendUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

export interface SessionOptions {
  /** CPU threads for matrix products (default: APR_THREADS, else min(cores, 8)). */
  threads?: number;
  /**
   * Compute backend (default: APR_BACKEND, else cpu). `auto` takes WebGPU only when an adapter exists and
   * the parity gate passes (its first forward pass matches the CPU's, see src/kernels/webgpu/parity.ts),
   * else the CPU with a one-line warning; `webgpu` throws BackendUnavailableError when there is no usable adapter.
   */
  backend?: BackendChoice;
  /** Options of the WebGPU backend (tests plant a faulty kernel through `fault`). */
  webgpu?: SyncWebGpuOptions;
  /** Where warnings go (default: one line on stderr). */
  warn?: (line: string) => void;
}

/** The text the parity gate runs through both backends. */
const PROBE_TEXT = 'The quick brown fox jumps over the lazy dog.\ndef add(a, b):\n    return a + b\n';

function backendChoice(opts: SessionOptions, path: string): BackendChoice {
  const raw = opts.backend ?? process.env['APR_BACKEND'] ?? 'cpu';
  if (raw === 'auto' || raw === 'webgpu' || raw === 'cpu') return raw;
  throw new FormatError(path, 'backend', `expected auto, webgpu or cpu, got '${raw}'`);
}

function probeIds(tokenizer: Tokenizer, vocab: number): number[] {
  const ids = tokenizer.encode(PROBE_TEXT).filter((id) => id >= 0 && id < vocab).slice(0, 32);
  return ids.length > 0 ? ids : [0, 1, 2, 3].filter((id) => id < vocab);
}

function threadOption(opts: SessionOptions): { threads?: number } {
  return opts.threads !== undefined ? { threads: opts.threads } : {};
}

/** Loads the model on WebGPU when the choice and the device allow it (and `auto`'s gate passes), else undefined. */
function loadOnGpu(bundle: ModelBundle, tokenizer: Tokenizer, choice: BackendChoice, opts: SessionOptions): Model | undefined {
  if (choice === 'cpu') return undefined;
  const warn = opts.warn ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const gpu = createSyncWebGpuBackend(opts.webgpu ?? {});
  if (!gpu.ok) {
    if (choice === 'webgpu') throw new BackendUnavailableError(`the webgpu backend is unavailable: ${gpu.reason}`);
    warn(`warning: webgpu unavailable (${gpu.reason}); using the cpu backend`);
    return undefined;
  }
  const missing = missingKernels(bundle.config, gpu.backend);
  if (missing.length > 0) {
    gpu.backend.close();
    const reason = `lacks ${missing.join(', ')} for ${bundle.config.architecture}`;
    if (choice === 'webgpu') throw new BackendUnavailableError(`the webgpu backend ${reason}`);
    warn(`warning: webgpu ${reason}; using the cpu backend`);
    return undefined;
  }
  const model = loadModel(bundle, { backend: gpu.backend });
  if (choice === 'webgpu') return model;
  const ids = probeIds(tokenizer, model.config.vocab_size);
  // the reference is the exact (dequantized) CPU product, as the WebGPU kernels compute it: the CPU's default
  // integer-dot path rounds activations to 8 bits (as llama.cpp does) and would fail the gate's 1e-3 bound
  const exact = loadModel(bundle, { backend: createCpuBackend({ integerDot: false, ...threadOption(opts) }) });
  const ref = exact.forward(ids, 0, exact.createCache(ids.length), { allLogits: true });
  exact.dispose();
  const report = compareLogits(ref, model.forward(ids, 0, model.createCache(ids.length), { allLogits: true }));
  if (report.pass) return model;
  model.dispose();
  gpu.backend.close();
  warn(`warning: webgpu failed the parity gate (cosine ${report.cosine.toFixed(6)} < ${PARITY_MIN_COSINE} or max rel error ${report.maxRelError.toExponential(2)} > ${PARITY_MAX_REL_ERROR}); using the cpu backend`);
  return undefined;
}

/** Loads the weights and the tokenizer of a bundle; closes the bundle's files afterwards. */
export function createSession(bundle: ModelBundle, opts: SessionOptions = {}): Session {
  const t0 = performance.now();
  try {
    if (!bundle.tokenizer) throw new FormatError(bundle.source.path, 'tokenizer', 'the model carries no tokenizer (tokenizer.json / tokenizer.ggml.* / embedded APR tokenizer)');
    const tokenizer = loadTokenizer(bundle.tokenizer, { source: `${bundle.source.path}: tokenizer`, modelConfig: bundle.config });
    let cpuModel: Model | undefined;
    const cpu = (): Model => (cpuModel ??= loadModel(bundle, { backend: createCpuBackend(threadOption(opts)) }));
    const gpuModel = loadOnGpu(bundle, tokenizer, backendChoice(opts, bundle.source.path), opts);
    if (gpuModel && cpuModel) cpuModel.dispose();
    const model = gpuModel ?? cpu();
    return { path: bundle.source.path, model, tokenizer, loadMs: performance.now() - t0 };
  } finally {
    bundle.tensors.close();
  }
}
