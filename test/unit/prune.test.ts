import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { createSession } from '../../src/model/session.js';
import { evalPerplexity } from '../../src/ops/perplexity.js';
import { type PruneOptions, pruneModel } from '../../src/ops/prune.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { elementCount } from '../../src/tensor/dtype.js';
import { fixture, tempDir } from '../helpers.js';

const DRAFT = fixture('models/tiny-draft-llama');
const CODER = fixture('models/tiny-coder-llama');
const HELDOUT = readFileSync(fixture('reference/heldout.py.txt'), 'utf8');
// Calibration text written for this project (not heldout.py.txt, not the training corpus).
const CALIBRATION = 'test/fixtures/calibration/python-calibration.txt';
const PROJ = /^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-prune-');
});
afterAll(() => tmp.cleanup());

function prune(name: string, o: Omit<PruneOptions, 'input' | 'output'> & { input?: string }): string {
  const output = join(tmp.dir, name);
  pruneModel({ input: DRAFT, output, calibration: CALIBRATION, samples: 32, seqLen: 64, ...o });
  return output;
}

/** Every tensor of a model as float32 (read back from the written file). */
function weights(path: string): Map<string, { shape: readonly number[]; w: Float32Array; bytes: Buffer }> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => {
      const t = m.tensors.get(n);
      if (!t) throw new Error(n);
      const bytes = t.read();
      return [n, { shape: t.shape, w: dequantize(t.dtype, bytes, elementCount(t.shape)), bytes: Buffer.from(bytes) }];
    }));
  } finally {
    m.tensors.close();
  }
}

function zeroFraction(w: Float32Array): number {
  return w.reduce((z, x) => z + (x === 0 ? 1 : 0), 0) / w.length;
}

function heldoutPpl(path: string, chunks = 4): number {
  return evalPerplexity(createSession(openModel(path)), 'heldout', HELDOUT, { context: 256, chunks }).perplexity;
}

describe('unstructured pruning on tiny-draft-llama', () => {
  const paths: Record<string, string> = {};
  beforeAll(() => {
    for (const method of ['magnitude', 'wanda', 'sparsegpt'] as const) paths[method] = prune(`${method}.apr`, { method, targetRatio: 0.5 });
  });

  it('each pruned tensor is within 0.1 % of the target sparsity, at 50 % and 30 % [ob:prune-sparsity-per-tensor]', () => {
    const extra = prune('sparsegpt-30.apr', { method: 'sparsegpt', targetRatio: 0.3 });
    const magTensor = prune('magnitude-tensor-30.apr', { method: 'magnitude', targetRatio: 0.3, granularity: 'tensor' });
    for (const [path, target] of [[paths['magnitude'], 0.5], [paths['wanda'], 0.5], [paths['sparsegpt'], 0.5], [extra, 0.3], [magTensor, 0.3]] as const) {
      let pruned = 0;
      for (const [n, t] of weights(path ?? '')) {
        if (!PROJ.test(n)) continue;
        pruned++;
        expect(Math.abs(zeroFraction(t.w) - target), `${path} ${n}`).toBeLessThanOrEqual(1e-3);
      }
      expect(pruned).toBe(14);
    }
  });

  it('touches only the projection weights [ob:prune-only-projections]', () => {
    const before = weights(DRAFT);
    for (const path of Object.values(paths)) {
      for (const [n, t] of weights(path)) {
        if (PROJ.test(n)) expect(t.bytes.equals(before.get(n)?.bytes ?? Buffer.alloc(0)), n).toBe(false);
        else expect(t.bytes.equals(before.get(n)?.bytes ?? Buffer.alloc(0)), n).toBe(true);
      }
    }
  });

  it('Wanda and SparseGPT beat magnitude pruning on heldout perplexity at 50 % [ob:prune-calibrated-beats-magnitude]', () => {
    const ppl = Object.fromEntries(Object.entries(paths).map(([m, p]) => [m, heldoutPpl(p)]));
    const dense = heldoutPpl(DRAFT);
    expect(ppl['magnitude']).toBeGreaterThan(dense);
    expect(ppl['wanda']).toBeLessThan(ppl['magnitude'] ?? 0);
    expect(ppl['sparsegpt']).toBeLessThan(ppl['magnitude'] ?? 0);
  });

  it('--pattern 2:4 leaves at least 2 zeros in every 4 consecutive weights of every row, read back from the file [ob:prune-2-4-structure]', () => {
    for (const method of ['magnitude', 'wanda', 'sparsegpt'] as const) {
      const path = prune(`${method}-24.apr`, { method, pattern: '2:4' });
      for (const [n, t] of weights(path)) {
        if (!PROJ.test(n)) continue;
        for (let g = 0; g < t.w.length; g += 4) {
          const zeros = [0, 1, 2, 3].filter((i) => t.w[g + i] === 0).length;
          if (zeros < 2) throw new Error(`${method} ${n}: group ${g / 4} has ${zeros} zeros`);
        }
        expect(zeroFraction(t.w)).toBeCloseTo(0.5, 6);
      }
    }
  });
});

describe('structured and depth pruning', () => {
  it('removing KV-head groups or MLP channels gives a consistent model that runs [ob:prune-runnable] [ob:structured-runnable] [ob:structured-units]', () => {
    const heads = pruneModel({ input: DRAFT, output: join(tmp.dir, 'heads.apr'), method: 'structured', unit: 'heads', targetRatio: 0.5 });
    expect(heads.config_changes).toEqual({ num_heads: [4, 2], num_kv_heads: [2, 1] });
    expect(heads.removed?.heads?.map((r) => r.length)).toEqual([1, 1]);
    const channels = pruneModel({ input: DRAFT, output: join(tmp.dir, 'channels.apr'), method: 'structured', unit: 'channels', targetRatio: 0.25, calibration: CALIBRATION, samples: 16, seqLen: 64 });
    expect(channels.config_changes).toEqual({ intermediate_size: [256, 192] });
    expect(channels.removed?.channels?.map((r) => r.length)).toEqual([64, 64]);
    const w = weights(join(tmp.dir, 'channels.apr'));
    expect(w.get('model.layers.1.mlp.down_proj.weight')?.shape).toEqual([128, 192]);
    expect(w.get('model.layers.1.mlp.gate_proj.weight')?.shape).toEqual([192, 128]);
    expect(w.get('model.layers.0.self_attn.q_proj.weight')?.shape).toEqual([128, 128]);
    const hw = weights(join(tmp.dir, 'heads.apr'));
    expect(hw.get('model.layers.0.self_attn.q_proj.weight')?.shape).toEqual([64, 128]);
    expect(hw.get('model.layers.0.self_attn.k_proj.weight')?.shape).toEqual([32, 128]);
    expect(hw.get('model.layers.0.self_attn.o_proj.weight')?.shape).toEqual([128, 64]);
    const dense = heldoutPpl(DRAFT, 2);
    for (const p of ['heads.apr', 'channels.apr']) {
      const ppl = heldoutPpl(join(tmp.dir, p), 2);
      expect(Number.isFinite(ppl)).toBe(true);
      expect(ppl).toBeGreaterThan(dense);
    }
  });

  it('channel pruning keeps the kept channels’ weights exactly', () => {
    const r = pruneModel({ input: DRAFT, output: join(tmp.dir, 'ch2.apr'), method: 'structured', unit: 'channels', targetRatio: 0.5 });
    const removed = new Set(r.removed?.channels?.[0] ?? []);
    const kept = [...Array(256).keys()].filter((j) => !removed.has(j));
    const before = weights(DRAFT).get('model.layers.0.mlp.down_proj.weight')?.w ?? new Float32Array();
    const after = weights(join(tmp.dir, 'ch2.apr')).get('model.layers.0.mlp.down_proj.weight')?.w ?? new Float32Array();
    for (let row = 0; row < 128; row += 17) kept.forEach((j, i) => expect(after[row * 128 + i]).toBe(before[row * 256 + j]));
  });

  it('dropping layers 3-4 of tiny-coder-llama renumbers the rest byte for byte [ob:depth-renumbered]', () => {
    const out = join(tmp.dir, 'depth.apr');
    const r = pruneModel({ input: CODER, output: out, method: 'depth', layers: '3-4' });
    expect(r.removed?.layers).toEqual([3, 4]);
    expect(r.config_changes).toEqual({ num_layers: [6, 4] });
    const before = weights(CODER);
    const after = weights(out);
    expect(after.size).toBe(57 - 18);
    const kept = [0, 1, 2, 5];
    for (const [n, t] of after) {
      const m = /^model\.layers\.(\d+)\.(.+)$/.exec(n);
      const src = m ? `model.layers.${kept[Number(m[1])]}.${m[2]}` : n;
      expect(t.bytes.equals(before.get(src)?.bytes ?? Buffer.alloc(0)), n).toBe(true);
    }
  });

  it('depth pruning by block influence drops the least influential layer and runs [ob:depth-runnable]', () => {
    const r = pruneModel({ input: DRAFT, output: join(tmp.dir, 'bi.apr'), method: 'depth', targetRatio: 0.5, calibration: CALIBRATION, samples: 8, seqLen: 64 });
    const bi = r.block_influence ?? [];
    expect(bi).toHaveLength(2);
    expect(r.removed?.layers).toEqual([bi[0] as number < (bi[1] as number) ? 0 : 1]);
    expect(Number.isFinite(heldoutPpl(join(tmp.dir, 'bi.apr'), 2))).toBe(true);
  });

  it('refuses bad options with the option named', () => {
    expect(() => pruneModel({ input: DRAFT, output: join(tmp.dir, 'x.apr'), method: 'wanda', targetRatio: 0.5 })).toThrow(/--calibration: wanda needs calibration text/);
    expect(() => pruneModel({ input: DRAFT, output: join(tmp.dir, 'x.apr'), method: 'depth', layers: '1-2' })).toThrow(/--layers: '1-2' is outside 0\.\.1/);
    expect(() => pruneModel({ input: DRAFT, output: join(tmp.dir, 'x.apr'), method: 'magnitude', pattern: '4:2' })).toThrow(/--pattern/);
    expect(() => pruneModel({ input: DRAFT, output: join(tmp.dir, 'x.apr'), method: 'magnitude', pattern: '2:4', targetRatio: 0.3 })).toThrow(/contradicts --pattern/);
    expect(() => pruneModel({ input: DRAFT, output: join(tmp.dir, 'x.apr'), method: 'structured', pattern: '2:4' })).toThrow(/--pattern: applies to magnitude/);
  });
});
