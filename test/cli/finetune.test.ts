import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { generate, loadModel } from '../../src/model/index.js';
import { finetune } from '../../src/ops/finetune.js';
import { toFloat32 } from '../../src/tensor/codecs/index.js';
import { loadReference, maxAbsDiff, referenceLogits } from '../golden/model-fixtures.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const BASE = fixture('models/tiny-coder-llama');
const ADAPTER = fixture('adapters/tiny-coder-llama-lora-email');
let tmp: ReturnType<typeof tempDir>;
let data: string;
beforeAll(() => {
  tmp = tempDir('apr-finetune-cli-');
  data = join(tmp.dir, 'train.jsonl');
  const recs = Array.from({ length: 6 }, (_v, i) => JSON.stringify({ instruction: `Write a function that returns ${i}`, response: `def f():\n    return ${i}\n` }));
  writeFileSync(data, `${recs.join('\n')}\n`);
});
afterAll(() => tmp.cleanup());

function floats(path: string): Map<string, Float32Array> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => {
      const t = m.tensors.get(n)!;
      return [n, toFloat32(t.dtype, t.shape, t.read())];
    }));
  } finally {
    m.tensors.close();
  }
}

function safetensorsFloats(path: string): Map<string, { shape: readonly number[]; data: Float32Array }> {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const raw = bytes.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]);
    out.set(name, { shape: e.shape, data: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) });
  }
  return out;
}

describe('apr finetune --adapter --merge (the PEFT fixture)', () => {
  it('[ob:finetune-merge-matches-peft] reproduces transformers+peft merged logits within 1e-4 and greedy_32 exactly', () => {
    const out = join(tmp.dir, 'merged.safetensors');
    const r = runCli('apr', ['finetune', BASE, '--adapter', ADAPTER, '--merge', '-o', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ output: out, format: 'safetensors', modules: 12 });
    // Tolerance 1e-4: both sides are float32; only summation order differs (the base model alone is within ≈3e-5).
    const model = loadModel(openModel(out));
    const ref = loadReference('tiny-coder-llama+lora-email');
    const logitsOf = referenceLogits('tiny-coder-llama+lora-email');
    let worst = 0;
    ref.prompts.forEach((p, i) => {
      worst = Math.max(worst, maxAbsDiff(model.logitsAll(p.ids), logitsOf(i)));
      expect(generate(model, p.ids, { maxTokens: 32 }).ids).toEqual(p.greedy_32);
    });
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('apr finetune training a LoRA on a tiny JSONL', () => {
  const common = ['--data', '', '--method', 'lora', '--rank', '8', '--alpha', '16', '--epochs', '2', '--lr', '1e-2', '--max-seq-len', '48', '--seed', '3'];
  const args = (): string[] => common.map((a) => (a === '' ? data : a));

  it('[ob:finetune-adapter-peft-layout] writes PEFT tensor names and config keys; merging changes q/v by exactly (α/r)·B·A', () => {
    const dir = join(tmp.dir, 'adapter');
    const plot = join(tmp.dir, 'loss.svg');
    const r = runCli('apr', ['finetune', BASE, ...args(), '-o', dir, '--plot', plot]);
    expect(r.status, r.stderr).toBe(0);
    // stdout: the epoch table, one row per epoch, then the summary (no progress bar: stderr is not a TTY)
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/epoch\s+train loss\s+val loss\s+train ppl\s+val ppl\s+lr\s+time s/);
    const rows = lines.slice(1, 3).map((l) => l.trim().split(/\s+/).map(Number));
    rows.forEach((row, i) => {
      expect(row).toHaveLength(7);
      expect(row[0]).toBe(i + 1);
      expect(row[3]).toBeCloseTo(Math.exp(row[1]!), 0);
    });
    expect(rows[1]![1]).toBeLessThan(rows[0]![1]!); // train loss fell
    expect(lines[4]).toMatch(/^wrote .*adapter \(PEFT adapter, .*lora, .*\d+ train \/ \d+ val examples/);
    expect((readFileSync(plot, 'utf8').match(/<polyline/g) ?? []).length).toBe(2);

    const ours = safetensorsFloats(join(dir, 'adapter_model.safetensors'));
    const peft = safetensorsFloats(join(ADAPTER, 'adapter_model.safetensors'));
    expect([...ours.keys()].sort()).toEqual([...peft.keys()].sort()); // same rank and targets as the fixture
    for (const [n, t] of peft) expect(ours.get(n)!.shape).toEqual(t.shape);
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const peftCfg = JSON.parse(readFileSync(join(ADAPTER, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(peftCfg).filter((k) => k !== 'peft_version' && !(k in cfg))).toEqual([]);
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] });

    const merged = join(tmp.dir, 'trained-merged.safetensors');
    expect(runCli('apr', ['finetune', BASE, '--adapter', dir, '--merge', '-o', merged]).status).toBe(0);
    const before = floats(BASE), after = floats(merged);
    let worst = 0, changed = 0;
    for (const [name, w0] of before) {
      const m = /^(model\.layers\.\d+\.self_attn\.[qv]_proj)\.weight$/.exec(name);
      const w1 = after.get(name)!;
      if (!m) {
        expect(Buffer.from(w1.buffer).equals(Buffer.from(w0.buffer)), name).toBe(true);
        continue;
      }
      const a = ours.get(`base_model.model.${m[1]}.lora_A.weight`)!, b = ours.get(`base_model.model.${m[1]}.lora_B.weight`)!;
      const [out, inn] = [b.shape[0]!, a.shape[1]!];
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < inn; i++) {
          let ba = 0;
          for (let k = 0; k < 8; k++) ba += b.data[o * 8 + k]! * a.data[k * inn + i]!;
          // Tolerance 1e-6: W′ is rounded once to float32 (|W′| < 1 → half-ulp ≤ 6e-8) after a float64 dot product.
          worst = Math.max(worst, Math.abs(w1[o * inn + i]! - w0[o * inn + i]! - 2 * ba));
        }
      }
      changed += Number(maxAbsDiff(w1, w0) > 0);
    }
    expect(changed).toBe(12); // every q/v weight moved (B is trained away from its zero init)
    expect(worst).toBeLessThan(1e-6);

    // Training with merge writes the same model as training then merging (seeded, deterministic).
    const direct = join(tmp.dir, 'direct.safetensors');
    const res = finetune({ model: BASE, data, output: direct, method: 'lora', rank: 8, alpha: 16, maxSeqLen: 48, merge: true, training: { epochs: 2, lr: 1e-2, seed: 3 } });
    expect(res.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(res.trainExamples + res.valExamples).toBe(6);
    const d = floats(direct);
    for (const [name, w] of after) expect(Buffer.from(d.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
  });

  it('bad options exit 2 and bad data exit 3, each with one line naming the flag or file:line and field', () => {
    const bad = runCli('apr', ['finetune', BASE, ...args(), '--method', 'dora', '-o', join(tmp.dir, 'x')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("apr: error: unknown --method 'dora' (expected lora, qlora, full)\n");
    const badData = join(tmp.dir, 'bad.jsonl');
    writeFileSync(badData, '{"instruction":"a","response":"b"}\n{"instruction":"a"}\n');
    const r = runCli('apr', ['finetune', BASE, '--data', badData, '-o', join(tmp.dir, 'x')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe(`apr: error: ${badData}:2: response: missing (expected a string)\n`);
  });
});
