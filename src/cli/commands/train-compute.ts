import type { Command } from 'commander';
import { intOption } from '../program.js';
import { CliError } from '../output.js';

/**
 * `--backend` and `--threads` of the training verbs (finetune, distill, align, tune, pipeline). On the CPU
 * every matrix product of the step (forward and backward) runs on the worker pool of inference,
 * APR_THREADS threads (src/train/autograd/threads.ts). finetune's LoRA / QLoRA also has a WebGPU step
 * (src/train/gpu: the whole step on the device); the other verbs refuse `webgpu` with a usage error rather
 * than silently training on the CPU. The default is the CPU, as for `apr run`; `auto` takes the GPU when a
 * hardware adapter passes the inference parity gate on the model (a software adapter is slower than the CPU).
 */

const TRAIN_BACKENDS = ['auto', 'cpu', 'webgpu'] as const;
interface ComputeFlags {
  backend?: string;
  threads?: number;
}

/**
 * What a verb's GPU step supports: none (webgpu refused, auto is the cpu), explicit (webgpu taken, auto is the
 * cpu) or auto (webgpu taken, auto gated on the model as `apr run --backend auto`).
 */
export type GpuStep = 'none' | 'explicit' | 'auto';

/** The backend the step runs on for `--backend`; throws the one-line usage error (exit 2) for what is not built. */
function trainBackend(flags: ComputeFlags, gpu: GpuStep, verb: string): 'cpu' | 'webgpu' | 'auto' {
  const b = flags.backend ?? 'cpu';
  if (!(TRAIN_BACKENDS as readonly string[]).includes(b)) throw new CliError(`--backend must be auto, cpu or webgpu, got '${b}'`);
  if (b === 'webgpu' && gpu === 'none') throw new CliError(`--backend webgpu: ${verb} has no GPU training step yet (finetune, align --lora and tune have); use --backend cpu or auto`);
  return b === 'webgpu' ? 'webgpu' : b === 'auto' && gpu === 'auto' ? 'auto' : 'cpu';
}

/** The backend a training command's parsed flags ask for (after the preAction check). */
export function trainBackendOf(flags: ComputeFlags): 'cpu' | 'webgpu' | 'auto' {
  return flags.backend === 'webgpu' || flags.backend === 'auto' ? flags.backend : 'cpu';
}

/** Checks `--backend`, and makes `--threads N` APR_THREADS=N for the training products of this command. */
function applyTrainCompute(flags: ComputeFlags, gpu: GpuStep, verb: string): 'cpu' | 'webgpu' | 'auto' {
  const backend = trainBackend(flags, gpu, verb);
  if (flags.threads !== undefined) {
    if (flags.threads < 1) throw new CliError(`--threads must be ≥ 1, got ${flags.threads}`);
    process.env['APR_THREADS'] = String(flags.threads);
  }
  return backend;
}

/** Adds `--backend` and `--threads` to a training command, applied before its action runs. */
export function addTrainComputeFlags(cmd: Command, gpu: GpuStep = 'none'): Command {
  const gpuHelp = gpu !== 'none' ? 'webgpu (LoRA / QLoRA: the whole step on the GPU; exits 2 without a usable adapter)' : 'webgpu (not built for this command: exits 2)';
  const autoHelp = gpu === 'auto' ? 'webgpu when a hardware adapter passes the parity gate on the model, as apr run --backend auto; else cpu' : 'the cpu';
  return cmd
    .option('--backend <kind>', `training compute: cpu (every matrix product of the step on the worker pool; the default) | ${gpuHelp} | auto (${autoHelp})`, 'cpu')
    .option('--threads <n>', 'CPU threads for the training step\'s matrix products (sets APR_THREADS; default: APR_THREADS, else every core); results do not depend on it', intOption('--threads'))
    .hook('preAction', (_cmd, action) => void applyTrainCompute(action.opts<ComputeFlags>(), gpu, action.name()));
}
