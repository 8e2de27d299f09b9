import { openModel } from '../../formats/open.js';
import { createSession } from '../../model/session.js';
import type { GpuTrainable } from './trainable.js';

/**
 * `--backend auto` of the training verbs that have a GPU step: the GPU trainer when a hardware adapter is
 * there and the inference parity gate passes on the model (src/model/session.ts, as `apr run --backend
 * auto`), else undefined (train on the CPU) with a one-line note. A software adapter (Mesa lavapipe,
 * SwiftShader) rasterizes on the CPU and trains slower than the CPU trainer, so auto does not take it.
 */

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

/** Why the inference parity gate keeps `model` off WebGPU, or undefined when it passes. */
function parityFailure(model: string): string | undefined {
  let note: string | undefined;
  const session = createSession(openModel(model), { backend: 'auto', warn: (line) => (note = line) });
  const onGpu = session.model.backend === 'webgpu';
  session.model.dispose();
  return onGpu ? undefined : (note ?? 'the WebGPU parity gate failed').replace(/^warning: /, '');
}

export function autoGpuTrainer(model: string, make: () => GpuTrainable, warn: (line: string) => void = (line) => void process.stderr.write(`${line}\n`)): GpuTrainable | undefined {
  let gpu: GpuTrainable;
  try {
    gpu = make();
  } catch (err) {
    warn(`note: --backend auto: no usable WebGPU adapter (${(err as Error).message.split('\n')[0] ?? ''}); training on the cpu`);
    return undefined;
  }
  const why = SOFTWARE_ADAPTER.test(gpu.deviceDescription) ? `the adapter is a software one (${gpu.deviceDescription})` : parityFailure(model);
  if (why === undefined) return gpu;
  gpu.close();
  warn(`note: --backend auto: ${why}; training on the cpu`);
  return undefined;
}
