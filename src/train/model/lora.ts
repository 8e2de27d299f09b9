import { PEFT_PREFIX } from '../../formats/peft/modules.js';
import { Rng } from '../../model/rng.js';
import { kernelFloats } from '../autograd/linalg.js';
import type { LinearParams } from '../autograd/linear.js';
import type { TrainParam } from '../types.js';
import type { ArchConfig } from '../../tensor/bundle.js';
import { LINEAR_MODULES, type LayerParams, type LinearModule, type ModelParams, modulePath } from './params.js';

/** One adapted projection: its PEFT module path and the trainable factors. */
export interface AdapterModule {
  readonly module: string;
  readonly a: TrainParam;
  readonly b: TrainParam;
}

export interface LoraSpec {
  readonly rank: number;
  readonly alpha: number;
  readonly targets: readonly string[];
  readonly seed: number;
}


const LAYER_KEY: Record<LinearModule, keyof LayerParams> = {
  q_proj: 'q', k_proj: 'k', v_proj: 'v', o_proj: 'o', gate_proj: 'gate', up_proj: 'up', down_proj: 'down',
};

/** Checks the target names; a bad one is a one-line error naming it. */
function checkTargets(targets: readonly string[]): LinearModule[] {
  const known = new Set<string>(LINEAR_MODULES);
  for (const t of targets) if (!known.has(t)) throw new Error(`targets: unknown module '${t}' (expected one of ${LINEAR_MODULES.join(', ')})`);
  return LINEAR_MODULES.filter((m) => targets.includes(m));
}

/**
 * PEFT's LoRA initialisation: A kaiming-uniform with a = √5 (torch nn.Linear's default, i.e. U(±1/√in)),
 * B zeros, so the adapted model starts equal to the base.
 */
function factors(module: string, rows: number, cols: number, spec: LoraSpec, rng: Rng): AdapterModule {
  const r = spec.rank;
  const a = kernelFloats(r * cols);
  const bound = 1 / Math.sqrt(cols);
  for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
  const b = kernelFloats(rows * r);
  const name = (part: string): string => `${PEFT_PREFIX}${module}.${part}.weight`;
  return {
    module,
    a: { name: name('lora_A'), shape: [r, cols], data: a, grad: new Float32Array(a.length) },
    b: { name: name('lora_B'), shape: [rows, r], data: b, grad: new Float32Array(b.length) },
  };
}

function adapt(lin: LinearParams, m: AdapterModule, spec: LoraSpec): LinearParams {
  const lora = { r: spec.rank, scale: spec.alpha / spec.rank, a: m.a.data, aGrad: m.a.grad, b: m.b.data, bGrad: m.b.grad };
  return { ...lin, lora };
}

/** The model with LoRA factors on every targeted projection of every layer (layer order, then module order). */
export function attachLora(p: ModelParams, spec: LoraSpec): { params: ModelParams; modules: AdapterModule[] } {
  const targets = checkTargets(spec.targets);
  if (!Number.isInteger(spec.rank) || spec.rank < 1) throw new Error(`rank: expected a positive integer, got ${spec.rank}`);
  const rng = new Rng(spec.seed);
  const modules: AdapterModule[] = [];
  const layers = p.layers.map((l, i) => {
    const next: Record<string, unknown> = { ...l };
    for (const t of targets) {
      const key = LAYER_KEY[t];
      const lin = l[key] as LinearParams;
      const m = factors(modulePath(i, t), lin.w.rows, lin.w.cols, spec, rng);
      modules.push(m);
      next[key] = adapt(lin, m, spec);
    }
    return next as unknown as LayerParams;
  });
  return { params: { ...p, layers }, modules };
}

/** [rows, cols] of projection `m` in a model of config `c` (as params.ts reads them). */
export function projectionShape(c: ArchConfig, m: LinearModule): [number, number] {
  const H = c.hidden_size;
  const qDim = c.num_heads * c.head_dim;
  const kvDim = c.num_kv_heads * c.head_dim;
  const shapes: Record<LinearModule, [number, number]> = {
    q_proj: [qDim, H], k_proj: [kvDim, H], v_proj: [kvDim, H], o_proj: [H, qDim],
    gate_proj: [c.intermediate_size, H], up_proj: [c.intermediate_size, H], down_proj: [H, c.intermediate_size],
  };
  return shapes[m];
}

/**
 * The adapter modules `attachLora` makes for a model of config `c`, in its order and with its initial values,
 * without reading any base weight (the GPU step keeps the base on the device).
 */
export function initLoraModules(c: ArchConfig, spec: LoraSpec): AdapterModule[] {
  const targets = checkTargets(spec.targets);
  if (!Number.isInteger(spec.rank) || spec.rank < 1) throw new Error(`rank: expected a positive integer, got ${spec.rank}`);
  const rng = new Rng(spec.seed);
  const modules: AdapterModule[] = [];
  for (let i = 0; i < c.num_layers; i++) {
    for (const t of targets) {
      const [rows, cols] = projectionShape(c, t);
      modules.push(factors(modulePath(i, t), rows, cols, spec, rng));
    }
  }
  return modules;
}
