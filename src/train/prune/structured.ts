import { defineContract } from '../../contract/index.js';
import type { ArchConfig, ModelBundle } from '../../tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { computedRef, outputDType, readFloats } from '../merge/floats.js';
import type { ActivationStats } from './stats.js';

export type StructuredUnit = 'heads' | 'channels';

export interface StructuredInput {
  bundle: ModelBundle;
  unit: StructuredUnit;
  /** Fraction of the units (KV-head groups, or MLP channels) removed from every layer. */
  ratio: number;
  stats?: ActivationStats | undefined;
}

export interface StructuredPlan {
  unit: StructuredUnit;
  config: ArchConfig;
  /** Per layer: indices of the kept units (KV-head groups or intermediate channels), ascending. */
  kept: number[][];
  removed: number[][];
  unitsPerLayer: number;
}

function norm2(w: Float32Array, from: number, count: number, stride = 1): number {
  let s = 0;
  for (let i = 0; i < count; i++) s += (w[from + i * stride] as number) ** 2;
  return s;
}

function ref(bundle: ModelBundle, name: string): TensorRef {
  const t = bundle.tensors.get(name);
  if (!t) throw new Error(`structured pruning: missing tensor ${name}`);
  return t;
}

/** Channel j's expected contribution: ‖down[:, j]‖ · (‖X_j‖ from calibration, else ‖gate_j‖·‖up_j‖). */
function channelScores(bundle: ModelBundle, l: number, stats: ActivationStats | undefined): Float64Array {
  const c = bundle.config;
  const I = c.intermediate_size;
  const H = c.hidden_size;
  const p = `model.layers.${l}.mlp`;
  const down = readFloats(ref(bundle, `${p}.down_proj.weight`));
  const xs = stats?.columnNorms(l, 'down_in');
  const gate = xs ? undefined : readFloats(ref(bundle, `${p}.gate_proj.weight`));
  const up = xs ? undefined : readFloats(ref(bundle, `${p}.up_proj.weight`));
  const s = new Float64Array(I);
  for (let j = 0; j < I; j++) {
    const out = Math.sqrt(norm2(down, j, H, I));
    s[j] = out * (xs ? (xs[j] as number) : Math.sqrt(norm2(gate as Float32Array, j * H, H) * norm2(up as Float32Array, j * H, H)));
  }
  return s;
}

/** A KV group's importance: Σ over its query heads' o_proj input channels of ‖X_o‖·‖o[:, ch]‖, else the weights' energy. */
function groupScores(bundle: ModelBundle, l: number, stats: ActivationStats | undefined): Float64Array {
  const c = bundle.config;
  const H = c.hidden_size;
  const hd = c.head_dim;
  const gs = c.num_heads / c.num_kv_heads;
  const p = `model.layers.${l}.self_attn`;
  const o = readFloats(ref(bundle, `${p}.o_proj.weight`));
  const qDim = c.num_heads * hd;
  const xs = stats?.columnNorms(l, 'o_in');
  const s = new Float64Array(c.num_kv_heads);
  const qkv = xs ? undefined : (['q', 'k', 'v'] as const).map((x) => readFloats(ref(bundle, `${p}.${x}_proj.weight`)));
  for (let g = 0; g < c.num_kv_heads; g++) {
    for (let ch = g * gs * hd; ch < (g + 1) * gs * hd; ch++) {
      const col = norm2(o, ch, H, qDim);
      s[g] = (s[g] as number) + (xs ? (xs[ch] as number) * Math.sqrt(col) : col);
    }
    if (qkv) {
      const [q, k, v] = qkv as [Float32Array, Float32Array, Float32Array];
      s[g] = (s[g] as number) + norm2(q, g * gs * hd * H, gs * hd * H) + norm2(k, g * hd * H, hd * H) + norm2(v, g * hd * H, hd * H);
    }
  }
  return s;
}

function lowest(scores: Float64Array, k: number): Set<number> {
  const idx = Array.from(scores.keys()).sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  return new Set(idx.slice(0, k));
}

function consistent(plan: StructuredPlan, c0: ArchConfig): boolean {
  const c = plan.config;
  const sizesOk = plan.kept.every((k, l) => k.length + (plan.removed[l]?.length ?? 0) === plan.unitsPerLayer && k.every((x, i) => i === 0 || x > (k[i - 1] as number)));
  const units = plan.unit === 'heads' ? c.num_kv_heads : c.intermediate_size;
  const headsOk = c.num_heads % c.num_kv_heads === 0 && c.num_heads * c0.num_kv_heads === c0.num_heads * c.num_kv_heads;
  return sizesOk && headsOk && plan.kept.every((k) => k.length === units) && units >= 1;
}

export const structuredContract = defineContract<StructuredInput, StructuredPlan>({
  id: 'prune-structured-v1',
  equation: 'structured',
  spec: 'remove the round(r·U) lowest-scoring units (KV-head groups with their query heads, or MLP channels) from every layer; shapes and config stay consistent',
  pre: [['ratio in [0, 1)', ({ ratio }) => ratio >= 0 && ratio < 1]],
  post: [
    ['config and kept units consistent', ({ bundle }, plan) => consistent(plan, bundle.config)],
    ['the same number of units removed from every layer', (_i, plan) => plan.removed.every((r) => r.length === (plan.removed[0]?.length ?? 0))],
  ],
});

/** Chooses which heads or channels to remove in each layer and the resulting config. */
export function planStructured(input: StructuredInput): StructuredPlan {
  return structuredContract.run(input, () => {
    const c = input.bundle.config;
    const units = input.unit === 'heads' ? c.num_kv_heads : c.intermediate_size;
    const k = Math.min(units - 1, Math.round(input.ratio * units));
    const kept: number[][] = [];
    const removed: number[][] = [];
    for (let l = 0; l < c.num_layers; l++) {
      const scores = input.unit === 'heads' ? groupScores(input.bundle, l, input.stats) : channelScores(input.bundle, l, input.stats);
      const drop = lowest(scores, k);
      kept.push([...Array(units).keys()].filter((u) => !drop.has(u)));
      removed.push([...drop].sort((a, b) => a - b));
    }
    const gs = c.num_heads / c.num_kv_heads;
    const config: ArchConfig = input.unit === 'heads' ? { ...c, num_kv_heads: units - k, num_heads: (units - k) * gs } : { ...c, intermediate_size: units - k };
    return { unit: input.unit, config, kept, removed, unitsPerLayer: units };
  });
}

/** Rows (`axis` 0) or columns (`axis` 1) of a matrix, or entries of a vector, at the given indices. */
function select(w: Float32Array, shape: readonly number[], indices: readonly number[], axis: 0 | 1): Float32Array {
  const rows = shape[0] ?? 1;
  const cols = shape.length > 1 ? (shape[1] as number) : 1;
  if (axis === 0) {
    const out = new Float32Array(indices.length * cols);
    indices.forEach((r, i) => out.set(w.subarray(r * cols, (r + 1) * cols), i * cols));
    return out;
  }
  const out = new Float32Array(rows * indices.length);
  for (let r = 0; r < rows; r++) indices.forEach((c, i) => (out[r * indices.length + i] = w[r * cols + c] as number));
  return out;
}

/** Expands kept units to kept rows/columns: a unit of `width` consecutive indices. */
function expand(units: readonly number[], width: number): number[] {
  return units.flatMap((u) => Array.from({ length: width }, (_v, i) => u * width + i));
}

const SLICES: readonly [RegExp, 'q' | 'kv' | 'ch', 0 | 1][] = [
  [/^self_attn\.q_proj\.(weight|bias)$/, 'q', 0],
  [/^self_attn\.[kv]_proj\.(weight|bias)$/, 'kv', 0],
  [/^self_attn\.o_proj\.weight$/, 'q', 1],
  [/^mlp\.(gate|up)_proj\.(weight|bias)$/, 'ch', 0],
  [/^mlp\.down_proj\.weight$/, 'ch', 1],
];

/** The pruned model's tensors: sliced lazily, the rest passed through. */
export function structuredStore(bundle: ModelBundle, plan: StructuredPlan): TensorStore {
  const c = bundle.config;
  const gs = c.num_heads / c.num_kv_heads;
  const refs = new Map<string, TensorRef>();
  for (const name of bundle.tensors.names()) {
    const src = bundle.tensors.get(name);
    if (!src) continue;
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
    const rule = m ? SLICES.find(([re, kind]) => re.test(m[2] as string) && (plan.unit === 'heads' ? kind !== 'ch' : kind === 'ch')) : undefined;
    if (!m || !rule) {
      refs.set(name, src);
      continue;
    }
    const kept = plan.kept[Number(m[1])] ?? [];
    const indices = rule[1] === 'ch' ? kept : expand(rule[1] === 'q' ? expand(kept, gs) : kept, c.head_dim);
    const axis = src.shape.length === 1 ? 0 : rule[2];
    const shape = axis === 0 ? [indices.length, ...src.shape.slice(1)] : [src.shape[0] ?? 1, indices.length];
    refs.set(name, computedRef(name, outputDType(src.dtype, undefined), shape, () => select(readFloats(src), src.shape, indices, axis)));
  }
  return { names: () => [...refs.keys()], get: (n) => refs.get(n), close: () => bundle.tensors.close() };
}
