import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/model/rng.js';
import type { ArchConfig, ModelBundle } from '../../../src/tensor/bundle.js';
import { MemoryTensorStore } from '../../../src/tensor/store.js';
import { readFloats } from '../../../src/train/merge/floats.js';
import { ContractViolation } from '../../../src/contract/violation.js';
import { depthContract, depthStore, parseLayers, planDepth } from '../../../src/train/prune/depth.js';
import { ActivationStats } from '../../../src/train/prune/stats.js';
import { planStructured, structuredContract, structuredStore } from '../../../src/train/prune/structured.js';

/**
 * Structured and depth pruning on a tiny in-memory model (2 layers, hidden 4, 4 query heads of dim 2 in 2 KV
 * groups, 6 MLP channels), checked against scores written out from their definitions: an MLP channel j is worth
 * ‖down[:, j]‖·‖gate_j‖·‖up_j‖ (or ‖down[:, j]‖·‖X_j‖ with calibration), a KV group the energy of its q/k/v rows
 * and o_proj columns (or Σ ‖X_ch‖·‖o[:, ch]‖ over its o_proj input channels with calibration).
 */
const CONFIG: ArchConfig = {
  architecture: 'llama', hidden_size: 4, num_layers: 2, num_heads: 4, num_kv_heads: 2, head_dim: 2, vocab_size: 8,
  intermediate_size: 6, rope_theta: 10000, rms_norm_eps: 1e-6, max_position_embeddings: 16, tie_word_embeddings: false, attention_bias: false,
};

const SHAPES: Record<string, number[]> = {
  'self_attn.q_proj.weight': [8, 4], 'self_attn.k_proj.weight': [4, 4], 'self_attn.v_proj.weight': [4, 4], 'self_attn.o_proj.weight': [4, 8],
  'mlp.gate_proj.weight': [6, 4], 'mlp.up_proj.weight': [6, 4], 'mlp.down_proj.weight': [4, 6], 'input_layernorm.weight': [4],
};

function model(seed: number, scale: (name: string, i: number) => number = () => 1): { bundle: ModelBundle; w: Map<string, Float32Array> } {
  const rng = new Rng(seed);
  const store = new MemoryTensorStore();
  const w = new Map<string, Float32Array>();
  const add = (name: string, shape: number[]): void => {
    const v = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_x, i) => (rng.next() * 2 - 1) * scale(name, i));
    w.set(name, v);
    store.add(name, 'F32', shape, new Uint8Array(v.buffer));
  };
  add('model.embed_tokens.weight', [8, 4]);
  for (let l = 0; l < 2; l++) for (const [n, s] of Object.entries(SHAPES)) add(`model.layers.${l}.${n}`, s);
  add('model.norm.weight', [4]);
  return { bundle: { config: CONFIG, tensors: store, metadata: {}, provenance: [], source: { path: 'mem', format: 'memory' } }, w };
}

const sq = (a: ArrayLike<number>): number => Array.from(a).reduce((s, x) => s + x * x, 0);
const rowOf = (m: Float32Array, cols: number, r: number): Float32Array => m.subarray(r * cols, (r + 1) * cols);
const colOf = (m: Float32Array, cols: number, c: number): number[] => Array.from({ length: m.length / cols }, (_v, r) => m[r * cols + c]!);

/** Indices of the k smallest scores (ties: lower index). */
function lowestK(scores: number[], k: number): number[] {
  return scores.map((s, i) => ({ s, i })).sort((a, b) => a.s - b.s || a.i - b.i).slice(0, k).map((x) => x.i).sort((a, b) => a - b);
}

function statsWith(layer: number, site: 'down_in' | 'o_in', sumSq: number[]): ActivationStats {
  const st = new ActivationStats(2, { norms: true, hessians: false, blockInfluence: false });
  const dim = sumSq.length;
  st.observer(layer, site, Float32Array.from(sumSq.map(Math.sqrt)), 1, dim);
  return st.finish();
}

describe('structured pruning plans against the scores written out', () => {
  it('MLP channels without calibration: ‖down[:, j]‖·‖gate_j‖·‖up_j‖; the sliced tensors keep exactly those rows and columns', () => {
    const { bundle, w } = model(5);
    const plan = planStructured({ bundle, unit: 'channels', ratio: 0.5 });
    expect(plan.config.intermediate_size).toBe(3);
    expect(plan.unitsPerLayer).toBe(6);
    for (let l = 0; l < 2; l++) {
      const p = `model.layers.${l}.mlp`;
      const [g, u, d] = ['gate', 'up', 'down'].map((x) => w.get(`${p}.${x}_proj.weight`)!);
      const scores = Array.from({ length: 6 }, (_v, j) => Math.sqrt(sq(colOf(d!, 6, j))) * Math.sqrt(sq(rowOf(g!, 4, j)) * sq(rowOf(u!, 4, j))));
      const drop = lowestK(scores, 3);
      expect(plan.removed[l]).toEqual(drop);
      expect(plan.kept[l]).toEqual([0, 1, 2, 3, 4, 5].filter((j) => !drop.includes(j)));
      const store = structuredStore(bundle, plan);
      const kept = plan.kept[l]!;
      expect(store.get(`${p}.gate_proj.weight`)!.shape).toEqual([3, 4]);
      expect(Array.from(readFloats(store.get(`${p}.gate_proj.weight`)!))).toEqual(kept.flatMap((j) => Array.from(rowOf(g!, 4, j))));
      expect(store.get(`${p}.down_proj.weight`)!.shape).toEqual([4, 3]);
      expect(Array.from(readFloats(store.get(`${p}.down_proj.weight`)!))).toEqual([0, 1, 2, 3].flatMap((r) => kept.map((j) => d![r * 6 + j]!)));
      // attention is untouched by channel pruning
      expect(store.get(`model.layers.${l}.self_attn.q_proj.weight`)).toBe(bundle.tensors.get(`model.layers.${l}.self_attn.q_proj.weight`));
    }
    expect(structuredStore(bundle, plan).names()).toEqual(bundle.tensors.names());
  });

  it('MLP channels with calibration: ‖down[:, j]‖·‖X_j‖ decides (a channel with tiny input norm goes first)', () => {
    const { bundle, w } = model(6);
    const xs = [4, 0.001, 9, 1, 16, 0.25];
    const plan = planStructured({ bundle, unit: 'channels', ratio: 0.34, stats: statsWith(0, 'down_in', xs) });
    const d = w.get('model.layers.0.mlp.down_proj.weight')!;
    const scores = xs.map((s, j) => Math.sqrt(sq(colOf(d, 6, j))) * Math.sqrt(s));
    expect(plan.removed[0]).toEqual(lowestK(scores, 2)); // round(0.34·6) = 2
    expect(plan.config.intermediate_size).toBe(4);
  });

  it('KV groups without calibration: energy of the group’s q/k/v rows and o_proj columns; q and o follow their KV group', () => {
    // layer 0's group 1 gets small weights everywhere, so it must be the one removed; layer 1 is left random
    const { bundle, w } = model(7, (name, i) => {
      if (!name.startsWith('model.layers.0.self_attn')) return 1;
      if (name.includes('q_proj')) return i >= 16 ? 0.05 : 1;
      if (name.includes('k_proj') || name.includes('v_proj')) return i >= 8 ? 0.05 : 1;
      if (name.includes('o_proj')) return i % 8 >= 4 ? 0.05 : 1;
      return 1;
    });
    const plan = planStructured({ bundle, unit: 'heads', ratio: 0.5 });
    expect(plan.config).toMatchObject({ num_kv_heads: 1, num_heads: 2, intermediate_size: 6 });
    expect(plan.removed[0]).toEqual([1]);
    const p = 'model.layers.1.self_attn';
    const [q, k, v, o] = ['q', 'k', 'v', 'o'].map((x) => w.get(`${p}.${x}_proj.weight`)!);
    const energy = [0, 1].map((g) => sq(q!.subarray(g * 16, (g + 1) * 16)) + sq(k!.subarray(g * 8, (g + 1) * 8)) + sq(v!.subarray(g * 8, (g + 1) * 8)) + [0, 1, 2, 3].reduce((s, ch) => s + sq(colOf(o!, 8, g * 4 + ch)), 0));
    expect(plan.removed[1]).toEqual(lowestK(energy, 1));
    const store = structuredStore(bundle, plan);
    const q0 = w.get('model.layers.0.self_attn.q_proj.weight')!;
    const o0 = w.get('model.layers.0.self_attn.o_proj.weight')!;
    // group 0 of layer 0 kept: query heads 0-1 (rows 0..3 of q), KV head 0 (rows 0..1 of k), o_proj columns 0..3
    expect(Array.from(readFloats(store.get('model.layers.0.self_attn.q_proj.weight')!))).toEqual(Array.from(q0.subarray(0, 16)));
    expect(store.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([2, 4]);
    expect(Array.from(readFloats(store.get('model.layers.0.self_attn.o_proj.weight')!))).toEqual([0, 1, 2, 3].flatMap((r) => Array.from(o0.subarray(r * 8, r * 8 + 4))));
    // MLP and norms pass through
    expect(store.get('model.layers.0.mlp.up_proj.weight')).toBe(bundle.tensors.get('model.layers.0.mlp.up_proj.weight'));
    expect(store.get('model.layers.0.input_layernorm.weight')).toBe(bundle.tensors.get('model.layers.0.input_layernorm.weight'));
  });

  it('KV groups with calibration: Σ over the group’s o_proj input channels of ‖X_ch‖·‖o[:, ch]‖', () => {
    const { bundle, w } = model(8);
    const xs = [1, 1, 1, 1, 100, 100, 100, 100];
    const plan = planStructured({ bundle, unit: 'heads', ratio: 0.5, stats: statsWith(0, 'o_in', xs) });
    const o = w.get('model.layers.0.self_attn.o_proj.weight')!;
    const s = [0, 1].map((g) => [0, 1, 2, 3].reduce((acc, c) => acc + Math.sqrt(xs[g * 4 + c]!) * Math.sqrt(sq(colOf(o, 8, g * 4 + c))), 0));
    expect(plan.removed[0]).toEqual(lowestK(s, 1));
  });

  it('at most units − 1 are removed; ratio 0 removes none; ratio ≥ 1 is refused by the contract', () => {
    const { bundle } = model(9);
    expect(planStructured({ bundle, unit: 'heads', ratio: 0.99 }).config.num_kv_heads).toBe(1);
    const none = planStructured({ bundle, unit: 'channels', ratio: 0 });
    expect(none.removed).toEqual([[], []]);
    expect(none.config.intermediate_size).toBe(6);
    expect(() => planStructured({ bundle, unit: 'channels', ratio: 1 })).toThrow(/ratio/);
  });
});

describe('depth pruning', () => {
  it('parses layer lists and ranges, and names the offending part', () => {
    expect(parseLayers('3-4,7', 8)).toEqual([3, 4, 7]);
    expect(parseLayers(' 5 , 1-2 ,1', 8)).toEqual([1, 2, 5]);
    expect(parseLayers('0', 1)).toEqual([0]);
    expect(() => parseLayers('2-1', 8)).toThrow("'2-1' is outside 0..7");
    expect(() => parseLayers('8', 8)).toThrow("'8' is outside 0..7");
    expect(() => parseLayers('x', 8)).toThrow("'x' is not a layer");
    expect(() => parseLayers('1-', 8)).toThrow(/not a layer/);
  });

  it('multi-digit layers and ranges; the given layers are sorted', () => {
    expect(parseLayers('10-12,3', 20)).toEqual([3, 10, 11, 12]);
    expect(parseLayers('12', 20)).toEqual([12]);
    expect(() => parseLayers('1:3', 20)).toThrow(/not a layer/);
    expect(() => parseLayers('a1', 20)).toThrow(/not a layer/);
  });

  it('the depth contract: layers in range; kept and removed partition the layers; at least one left, config updated', () => {
    const { bundle } = model(13);
    const clauseOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        if (e instanceof ContractViolation) return e.clause;
        throw e;
      }
      return undefined;
    };
    expect(clauseOf(() => planDepth({ bundle, layers: [2] }))).toBe('layers in range');
    expect(clauseOf(() => planDepth({ bundle, layers: [-1] }))).toBe('layers in range');
    expect(clauseOf(() => planDepth({ bundle, layers: [0.5] }))).toBe('layers in range');
    const c1 = { ...CONFIG, num_layers: 1 };
    const input = { bundle, layers: [0] };
    expect(clauseOf(() => depthContract.run(input, () => ({ removed: [0], kept: [1], config: c1 })))).toBeUndefined();
    expect(clauseOf(() => depthContract.run(input, () => ({ removed: [0], kept: [0], config: c1 })))).toBe('kept and removed partition the layers');
    expect(clauseOf(() => depthContract.run(input, () => ({ removed: [0], kept: [1, 1], config: c1 })))).toBe('kept and removed partition the layers');
    expect(clauseOf(() => depthContract.run(input, () => ({ removed: [0], kept: [1], config: CONFIG })))).toBe('at least one layer left and config updated');
    expect(clauseOf(() => depthContract.run(input, () => ({ removed: [0, 1], kept: [], config: { ...CONFIG, num_layers: 0 } })))).toBe('at least one layer left and config updated');
    // the structured contract: same count removed per layer, config consistent with the kept units
    const plan = planStructured({ bundle, unit: 'channels', ratio: 0.5 });
    const sin = { bundle, unit: 'channels' as const, ratio: 0.5 };
    expect(clauseOf(() => structuredContract.run(sin, () => ({ ...plan, removed: [plan.removed[0]!, plan.removed[1]!.slice(1)], kept: [plan.kept[0]!, [...plan.kept[1]!, plan.removed[1]![0]!].sort((a, b) => a - b)] })))).toBe('config and kept units consistent');
    expect(clauseOf(() => structuredContract.run(sin, () => ({ ...plan, config: { ...plan.config, intermediate_size: 4 } })))).toBe('config and kept units consistent');
    expect(clauseOf(() => structuredContract.run(sin, () => ({ ...plan, kept: [[...plan.kept[0]!].reverse(), plan.kept[1]!] })))).toBe('config and kept units consistent');
    expect(clauseOf(() => structuredContract.run(sin, () => plan))).toBeUndefined();
    expect(clauseOf(() => planStructured({ bundle, unit: 'channels', ratio: -0.1 }))).toBe('ratio in [0, 1)');
  });

  it('by ratio with calibration: round(r·L) layers, at most L − 1, ties to the lower layer', () => {
    const { bundle } = model(14);
    const st = new ActivationStats(2, { norms: false, hessians: false, blockInfluence: true });
    // both layers leave the stream as it is: BI = 0 for both, a tie
    for (let l = 0; l <= 2; l++) st.observer(l, 'residual', Float32Array.from([1, 2, 3, 4]), 1, 4);
    st.finish();
    expect(planDepth({ bundle, ratio: 0.99, stats: st }).removed).toEqual([0]); // round(1.98) = 2, capped at 1
    expect(planDepth({ bundle, ratio: 0.2, stats: st }).removed).toEqual([]);
  });

  it('drops the given layers and renumbers the rest, tensors passed through by reference', () => {
    const { bundle } = model(10);
    const plan = planDepth({ bundle, layers: [0] });
    expect(plan).toMatchObject({ removed: [0], kept: [1] });
    expect(plan.config.num_layers).toBe(1);
    expect(plan.blockInfluence).toBeUndefined();
    const store = depthStore(bundle, plan);
    const src = bundle.tensors.get('model.layers.1.mlp.up_proj.weight')!;
    const moved = store.get('model.layers.0.mlp.up_proj.weight')!;
    expect(moved.shape).toEqual(src.shape);
    expect(moved.read()).toBe(src.read());
    expect(store.names().filter((n) => n.startsWith('model.layers.1.'))).toEqual([]);
    expect(store.get('model.embed_tokens.weight')).toBe(bundle.tensors.get('model.embed_tokens.weight'));
    expect(() => planDepth({ bundle, layers: [0, 1] })).toThrow('would remove all 2 layers');
  });

  it('by block influence: BI_l = 1 − mean cos(x_l, x_{l+1}) from the residual stream; the least influential layer goes', () => {
    const { bundle } = model(11);
    const st = new ActivationStats(2, { norms: false, hessians: false, blockInfluence: true });
    // layer 0 turns x into an orthogonal vector (cos 0, BI 1); layer 1 leaves it as it is (cos 1, BI 0)
    st.observer(0, 'residual', Float32Array.from([1, 0, 0, 0, 0, 2, 0, 0]), 2, 4);
    st.observer(1, 'residual', Float32Array.from([0, 3, 0, 0, 1, 0, 0, 0]), 2, 4);
    st.observer(2, 'residual', Float32Array.from([0, 6, 0, 0, 2, 0, 0, 0]), 2, 4);
    expect(st.tokens).toBe(2);
    const bi = st.finish().blockInfluence();
    expect(bi[0]).toBeCloseTo(1, 12);
    expect(bi[1]).toBeCloseTo(0, 12);
    const plan = planDepth({ bundle, ratio: 0.5, stats: st });
    expect(plan.removed).toEqual([1]);
    expect(plan.blockInfluence).toEqual(bi);
    expect(() => planDepth({ bundle, ratio: 0.5 })).toThrow(/needs --layers/);
  });
});

describe('calibration statistics against their definitions', () => {
  it('Σ x_j² per channel and the full symmetric XᵀX, over every batch', () => {
    const st = new ActivationStats(1, { norms: true, hessians: true, blockInfluence: false });
    const x1 = [1, 2, 3, -1, 0, 2];
    const x2 = [0.5, -2, 1];
    st.observer(0, 'mlp_in', Float32Array.from(x1), 2, 3);
    st.observer(0, 'mlp_in', Float32Array.from(x2), 1, 3);
    st.finish();
    const rows = [x1.slice(0, 3), x1.slice(3), x2];
    expect(Array.from(st.columnNorms(0, 'mlp_in')!)).toEqual([0, 1, 2].map((j) => Math.sqrt(rows.reduce((s, r) => s + r[j]! ** 2, 0))));
    const h = st.hessianOf(0, 'mlp_in')!;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(h[i * 3 + j]).toBe(rows.reduce((s, r) => s + r[i]! * r[j]!, 0));
    expect(st.columnNorms(0, 'attn_in')).toBeUndefined();
    expect(st.hessianOf(1, 'mlp_in')).toBeUndefined();
  });

  it('collects only what is asked for, and counts tokens at layer 0’s residual only', () => {
    const st = new ActivationStats(2, { norms: false, hessians: false, blockInfluence: false });
    st.observer(0, 'attn_in', Float32Array.from([1, 2]), 1, 2);
    st.observer(0, 'residual', Float32Array.from([1, 2, 3, 4]), 2, 2);
    st.observer(1, 'residual', Float32Array.from([1, 2, 3, 4]), 2, 2);
    expect(st.columnNorms(0, 'attn_in')).toBeUndefined();
    expect(st.hessianOf(0, 'attn_in')).toBeUndefined();
    expect(st.tokens).toBe(2);
    expect(st.blockInfluence()).toEqual([1, 1]); // nothing observed: cos sum 0
  });
});
