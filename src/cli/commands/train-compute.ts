import type { Command } from 'commander';
import { intOption } from '../program.js';
import { CliError } from '../output.js';

/**
 * `--backend` and `--threads` of the training verbs (finetune, distill, align, tune, pipeline). Training
 * runs on the CPU: every matrix product of the step (forward and backward) on the worker pool of
 * inference, APR_THREADS threads (src/train/autograd/threads.ts). There is no WebGPU training step yet
 * (src/kernels/webgpu holds the backward kernels, not a step), so `auto` is the CPU and `webgpu` is refused
 * with a usage error rather than silently training on the CPU.
 */

const TRAIN_BACKENDS = ['auto', 'cpu', 'webgpu'] as const;
interface ComputeFlags {
  backend?: string;
  threads?: number;
}

/** The backend the step runs on for `--backend`; throws the one-line usage error (exit 2) for what is not built. */
function trainBackend(flags: ComputeFlags): 'cpu' {
  const b = flags.backend ?? 'auto';
  if (!(TRAIN_BACKENDS as readonly string[]).includes(b)) throw new CliError(`--backend must be auto, cpu or webgpu, got '${b}'`);
  if (b === 'webgpu') throw new CliError('--backend webgpu: the GPU training step is not built yet (only its kernels are); use --backend cpu or auto');
  return 'cpu';
}

/** Checks `--backend`, and makes `--threads N` APR_THREADS=N for the training products of this command. */
function applyTrainCompute(flags: ComputeFlags): 'cpu' {
  const backend = trainBackend(flags);
  if (flags.threads !== undefined) {
    if (flags.threads < 1) throw new CliError(`--threads must be ≥ 1, got ${flags.threads}`);
    process.env['APR_THREADS'] = String(flags.threads);
  }
  return backend;
}

/** Adds `--backend` and `--threads` to a training command, applied before its action runs. */
export function addTrainComputeFlags(cmd: Command): Command {
  return cmd
    .option('--backend <kind>', 'training compute: auto (the CPU until a WebGPU training step exists) | cpu (every matrix product of the step on the worker pool) | webgpu (not built yet: exits 2)', 'auto')
    .option('--threads <n>', 'CPU threads for the training step\'s matrix products (sets APR_THREADS; default: APR_THREADS, else every core); results do not depend on it', intOption('--threads'))
    .hook('preAction', (_cmd, action) => void applyTrainCompute(action.opts<ComputeFlags>()));
}
