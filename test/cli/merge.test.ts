import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel, writeModel } from '../../src/formats/open.js';
import { readPeftAdapter } from '../../src/formats/peft/adapter.js';
import { mergeLora } from '../../src/formats/peft/merge.js';
import { checkModel } from '../../src/ops/check.js';
import { mergeModels } from '../../src/ops/merge.js';
import { MERGE_METHOD_NAMES } from '../../src/train/merge/registry.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const CODER = fixture('models/tiny-coder-llama');
const CODER_GGUF = fixture('gguf/tiny-coder-llama-f32.gguf');
const DRAFT = fixture('models/tiny-draft-llama');
const ADAPTER = fixture('adapters/tiny-coder-llama-lora-email');
let tmp: ReturnType<typeof tempDir>;
let lora: string;
beforeAll(() => {
  tmp = tempDir('apr-merge-cli-');
  lora = join(tmp.dir, 'coder+lora.apr');
  writeModel(mergeLora(openModel(CODER), readPeftAdapter(ADAPTER)), lora, 'apr');
});
afterAll(() => tmp.cleanup());

function tensorBytes(path: string): Map<string, Buffer> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => [n, Buffer.from(m.tensors.get(n)?.read() ?? [])]));
  } finally {
    m.tensors.close();
  }
}

describe('apr merge / apr prune on tiny-coder-llama', () => {
  it('merging tiny-coder-llama with itself (HF folder + llama.cpp f32 GGUF) returns it bit for bit, every strategy [ob:merge-self-bitwise]', () => {
    const ref = tensorBytes(CODER);
    for (const strategy of MERGE_METHOD_NAMES) {
      const models = strategy === 'model_stock' ? [CODER, CODER_GGUF, CODER_GGUF] : strategy === 'passthrough' ? [CODER_GGUF] : [CODER, CODER_GGUF];
      const sparse = strategy === 'ties' || strategy === 'della' || strategy.startsWith('dare') || strategy === 'breadcrumbs';
      // nearswap's t has no default (as in mergekit)
      const r = mergeModels({ models, output: join(tmp.dir, `self-${strategy}.apr`), strategy, ...(sparse ? { density: 0.5 } : {}), ...(strategy === 'nearswap' ? { t: [0.5] } : {}), seed: 11 });
      const got = tensorBytes(r.output);
      expect(got.size, strategy).toBe(57);
      for (const [name, bytes] of ref) expect(got.get(name)?.equals(bytes), `${strategy} ${name}`).toBe(true);
    }
  });

  it('apr merge --json merges the model with its LoRA fine-tune; the result passes apr check', () => {
    const out = join(tmp.dir, 'ties.apr');
    const r = runCli('apr', ['merge', CODER, lora, '--strategy', 'ties', '--density', '0.5', '-o', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { strategy: string; tensors: number; base: string; models: string[]; peak_rss_bytes: number };
    expect(j.strategy).toBe('ties');
    expect(j.tensors).toBe(57);
    expect(j.models).toEqual([lora]);
    expect(j.peak_rss_bytes).toBeGreaterThan(0);
    // only q_proj and v_proj carry the adapter: every other tensor is the base's, byte for byte
    const base = tensorBytes(CODER);
    const merged = tensorBytes(out);
    const changed = [...merged].filter(([n, b]) => !b.equals(base.get(n) ?? Buffer.alloc(0))).map(([n]) => n);
    expect(changed.length).toBe(12);
    expect(changed.every((n) => /self_attn\.[qv]_proj\.weight$/.test(n))).toBe(true);
    const report = checkModel(out);
    expect(report.stages.filter((s) => s.status === 'FAIL')).toEqual([]);
    expect(report.all_passed).toBe(true);
  });

  it('apr prune --analyze reports per-tensor sparsity and writes nothing [ob:prune-analyze-writes-nothing]', () => {
    const out = join(tmp.dir, 'never.apr');
    const r = runCli('apr', ['prune', DRAFT, '--method', 'magnitude', '--target-ratio', '0.5', '--analyze', '-o', out, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { analyze: boolean; tensors: { name: string; sparsity: number }[] };
    expect(j.analyze).toBe(true);
    expect(j.tensors).toHaveLength(14);
    for (const t of j.tensors) expect(t.sparsity).toBe(0.5);
    expect(existsSync(out)).toBe(false);
  });

  it('exits 2 on bad usage and 3 on mismatched models, with one line naming the problem', () => {
    const bad = runCli('apr', ['merge', DRAFT, DRAFT, '--strategy', 'average', '-o', join(tmp.dir, 'x.apr')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--strategy must be one of linear, slerp/);
    const mismatch = runCli('apr', ['merge', DRAFT, CODER, '--strategy', 'linear', '-o', join(tmp.dir, 'y.apr')]);
    expect(mismatch.status).toBe(3);
    expect(mismatch.stderr.trim().split('\n')).toHaveLength(1);
    expect(mismatch.stderr).toMatch(/model\.embed_tokens\.weight: shape \[4096, 256\]/);
    expect(existsSync(join(tmp.dir, 'y.apr'))).toBe(false);
  });
});
