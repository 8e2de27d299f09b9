/**
 * LoRA adapters through the CLI: inspect, PEFT ↔ llama.cpp GGUF conversion, merging a GGUF adapter and
 * `apr run --lora`, against llama.cpp's GGUF of the fixture adapter and transformers+peft's merged reference.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { generate, loadModel } from '../../src/model/index.js';
import { convertAdapter, inspectAdapter } from '../../src/ops/adapter.js';
import { loadReference, maxAbsDiff, referenceLogits } from '../golden/model-fixtures.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const BASE_HF = fixture('models/tiny-coder-llama');
const BASE_GGUF = fixture('gguf/tiny-coder-llama-f32.gguf');
const GGUF_LORA = fixture('gguf/tiny-coder-llama-lora-email-f32.gguf');
const PEFT_LORA = fixture('adapters/tiny-coder-llama-lora-email');
const REF = 'tiny-coder-llama+lora-email';
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-adapter-cli-');
});
afterAll(() => tmp.cleanup());

describe('apr inspect / import / export of LoRA adapters', () => {
  it('[ob:adapter-inspect-fixture] inspect of llama.cpp\'s GGUF reports what adapter_config.json says', () => {
    const g = runCli('apr', ['inspect', GGUF_LORA, '--json']);
    expect(g.stderr).toBe('');
    const p = inspectAdapter(PEFT_LORA);
    const facts = { kind: 'lora-adapter', rank: 8, alpha: 16, scale: 2, ranks: [8], targets: ['q_proj', 'v_proj'], modules: 12, tensor_count: 24, parameters: 6 * (8 * 256 + 256 * 8 + 8 * 256 + 128 * 8) };
    expect(JSON.parse(g.stdout)).toMatchObject({ ...facts, format: 'gguf', architecture: 'llama', metadata: { 'general.type': 'adapter', 'adapter.type': 'lora', 'adapter.lora.alpha': 16 } });
    expect(p).toMatchObject({ ...facts, format: 'peft', architecture: null, metadata: { r: 8, lora_alpha: 16 } });
    const text = runCli('apr', ['inspect', GGUF_LORA]);
    expect(text.stdout).toMatch(/rank \/ alpha \/ scale\s+8 \/ 16 \/ 2\n/);
    expect(text.stdout).toMatch(/targets\s+q_proj, v_proj\n/);
  });

  it('export GGUF → PEFT (needs --base), import PEFT → GGUF: the fixture files come back byte for byte', () => {
    const dir = join(tmp.dir, 'tiny-coder-llama-lora-email');
    const noBase = runCli('apr', ['export', GGUF_LORA, '-o', dir, '--format', 'peft']);
    expect(noBase.status).toBe(3);
    expect(noBase.stderr).toMatch(/^apr: error: \S+lora-email-f32\.gguf: tensor 'blk\.0\.attn_q\.weight\.lora_b': .*--base <model>\)\n$/);
    expect(existsSync(dir)).toBe(false);
    const out = runCli('apr', ['export', GGUF_LORA, '-o', dir, '--format', 'peft', '--base', BASE_HF, '--json']);
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toMatchObject({ format: 'peft', from: 'gguf', modules: 12, tensors: 24 });
    expect(Buffer.compare(readFileSync(join(dir, 'adapter_model.safetensors')), readFileSync(join(PEFT_LORA, 'adapter_model.safetensors')))).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'))).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: 'tiny-coder-llama' });
    const gguf = join(tmp.dir, 'back.gguf');
    const back = runCli('apr', ['import', dir, '-o', gguf, '--base', BASE_GGUF]);
    expect(back.stdout).toMatch(/^wrote \S+back\.gguf \(llama\.cpp LoRA GGUF\): 12 LoRA modules, 24 tensors/);
    expect(Buffer.compare(readFileSync(gguf), readFileSync(GGUF_LORA))).toBe(0);
    expect(() => convertAdapter({ input: PEFT_LORA, output: join(tmp.dir, 'x.gguf') })).toThrow(/--base: a GGUF adapter needs the base model/);
    expect(existsSync(join(tmp.dir, 'x.gguf'))).toBe(false);
  });

  it('an adapter GGUF is not a model: apr run on it says so in one line', () => {
    const r = runCli('apr', ['run', GGUF_LORA, 'hi']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^apr: error: \S+\.gguf: general\.type: a LoRA adapter, not a model \(apply it with apr run <base> --lora/);
  });
});

describe('merging and applying a llama.cpp LoRA GGUF', () => {
  const ref = loadReference(REF);
  const logitsOf = referenceLogits(REF);

  it('[ob:finetune-merge-gguf-lora] apr finetune --adapter A.gguf --merge: PEFT merged logits within 1e-4, greedy_32 exact', () => {
    const out = join(tmp.dir, 'merged.apr');
    const r = runCli('apr', ['finetune', BASE_GGUF, '--adapter', GGUF_LORA, '--merge', '-o', out, '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ output: out, format: 'apr', modules: 12 });
    const model = loadModel(openModel(out));
    let worst = 0;
    ref.prompts.forEach((p, i) => {
      worst = Math.max(worst, maxAbsDiff(model.logitsAll(p.ids), logitsOf(i)));
      expect(generate(model, p.ids, { maxTokens: 32 }).ids).toEqual(p.greedy_32);
    });
    // Tolerance 1e-4: float32 on both sides, only summation order differs (measured 2.2e-5).
    expect(worst).toBeLessThan(1e-4);
  });

  it('apr run --lora (unmerged; one GGUF, or GGUF:0.5 + PEFT folder:0.5) gives the merged reference greedy tokens', () => {
    const p = ref.prompts[0]!;
    const args = ['run', BASE_GGUF, p.text, '-n', '32', '--json'];
    const one = runCli('apr', [...args, '--lora', GGUF_LORA]);
    expect(one.stderr).toBe('');
    expect(JSON.parse(one.stdout).token_ids).toEqual(p.greedy_32);
    const two = runCli('apr', [...args, '--lora', `${GGUF_LORA}:0.5`, '--lora', `${PEFT_LORA}:0.5`]);
    expect(JSON.parse(two.stdout).token_ids).toEqual(p.greedy_32);
  });

  it('--lora errors are one line with a distinct exit code', () => {
    const missing = runCli('apr', ['run', BASE_GGUF, 'x', '-n', '1', '--lora', join(tmp.dir, 'nope.gguf')]);
    expect([missing.status, missing.stderr]).toEqual([3, expect.stringMatching(/^apr: error: \S+nope\.gguf: path: no such file or directory\n$/)]);
    const badScale = runCli('apr', ['run', BASE_GGUF, 'x', '-n', '1', '--lora', `${GGUF_LORA}:half`]);
    expect(badScale.status).toBe(2);
    expect(badScale.stderr).toMatch(/--lora: the scale after ':' must be a finite number, got 'half'/);
  });
});
