import { defineContract } from '../../contract/index.js';
import type { ArchConfig, ModelBundle } from '../../tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import type { ActivationStats } from './stats.js';

export interface DepthInput {
  bundle: ModelBundle;
  /** Layers to drop; when absent, the round(ratio·L) layers of lowest block influence (needs stats). */
  layers?: readonly number[] | undefined;
  ratio?: number | undefined;
  stats?: ActivationStats | undefined;
}

export interface DepthPlan {
  removed: number[];
  /** Old layer index of each new layer. */
  kept: number[];
  config: ArchConfig;
  /** ShortGPT block influence 1 − E[cos(x_l, x_{l+1})] per layer, when calibration ran. */
  blockInfluence?: number[];
}

/** "3-4,7" → [3, 4, 7]; errors name the offending part. */
export function parseLayers(text: string, numLayers: number): number[] {
  const out = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`--layers: '${part}' is not a layer or a range a-b`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b >= numLayers) throw new Error(`--layers: '${part}' is outside 0..${numLayers - 1}`);
    for (let l = a; l <= b; l++) out.add(l);
  }
  return [...out].sort((x, y) => x - y);
}

function chooseLayers(input: DepthInput, n: number): { removed: number[]; bi?: number[] } {
  if (input.layers) return { removed: [...input.layers].sort((a, b) => a - b) };
  const bi = input.stats?.blockInfluence();
  if (!bi || input.ratio === undefined) throw new Error('depth pruning needs --layers, or --target-ratio with --calibration');
  const k = Math.min(n - 1, Math.round(input.ratio * n));
  const order = bi.map((v, l) => ({ v, l })).sort((a, b) => a.v - b.v || a.l - b.l);
  return { removed: order.slice(0, k).map((x) => x.l).sort((a, b) => a - b), bi };
}

export const depthContract = defineContract<DepthInput, DepthPlan>({
  id: 'prune-depth-v1',
  equation: 'depth',
  spec: 'drop layers D ⊂ {0..L−1}: layer i of the result is layer kept[i] of the input, num_layers = L − |D| ≥ 1',
  pre: [['layers in range', ({ bundle, layers }) => (layers ?? []).every((l) => Number.isInteger(l) && l >= 0 && l < bundle.config.num_layers)]],
  post: [
    ['kept and removed partition the layers', ({ bundle }, p) => p.kept.length + p.removed.length === bundle.config.num_layers && p.kept.every((l) => !p.removed.includes(l))],
    ['at least one layer left and config updated', (_i, p) => p.kept.length >= 1 && p.config.num_layers === p.kept.length],
  ],
});

/** Which layers to drop (given, or chosen by lowest block influence) and the resulting config. */
export function planDepth(input: DepthInput): DepthPlan {
  return depthContract.run(input, () => {
    const n = input.bundle.config.num_layers;
    const { removed, bi } = chooseLayers(input, n);
    if (removed.length >= n) throw new Error(`depth pruning would remove all ${n} layers`);
    const kept = [...Array(n).keys()].filter((l) => !removed.includes(l));
    return { removed, kept, config: { ...input.bundle.config, num_layers: kept.length }, ...(bi ? { blockInfluence: bi } : {}) };
  });
}

/** The model without the dropped layers; later layers renumbered, bytes unchanged. */
export function depthStore(bundle: ModelBundle, plan: DepthPlan): TensorStore {
  const refs = new Map<string, TensorRef>();
  const newIndex = new Map(plan.kept.map((old, i) => [old, i]));
  for (const name of bundle.tensors.names()) {
    const src = bundle.tensors.get(name);
    if (!src) continue;
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
    if (!m) {
      refs.set(name, src);
      continue;
    }
    const to = newIndex.get(Number(m[1]));
    if (to === undefined) continue;
    const renamed = `model.layers.${to}.${m[2] as string}`;
    refs.set(renamed, { name: renamed, dtype: src.dtype, shape: src.shape, byteLength: src.byteLength, read: () => src.read() });
  }
  return { names: () => [...refs.keys()], get: (n) => refs.get(n), close: () => bundle.tensors.close() };
}
