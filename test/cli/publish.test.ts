import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openModel } from '../../src/formats/open.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const HF = fixture('models/tiny-coder-llama');
let tmp: ReturnType<typeof tempDir>;
let results: string;
let lock: string;
let summary: string;

beforeAll(() => {
  tmp = tempDir('apr-publish-');
  results = join(tmp.dir, 'humaneval_20260328.json');
  writeFileSync(results, JSON.stringify({ benchmark: 'humaneval', model: 'm.apr', results: { total: 164, completed: 164, passed: 138, errors: 0, pass_at_1: 84.15, pass_at_10: 90.2 }, problems: [] }));
  lock = join(tmp.dir, 'pipeline.lock.json');
  writeFileSync(lock, JSON.stringify({ stages: [
    { name: 'import', key: 'k1', command: 'apr import base -o m.apr', outputs: { 'm.apr': 'sha256:aaaa' } },
    { name: 'finetune', key: 'k2', command: ['apr', 'finetune', 'm.apr'], outputs: {} },
  ] }));
  summary = join(tmp.dir, 'data.md');
  writeFileSync(summary, '10k instruction pairs; 0 overlaps with HumanEval (13-gram decontamination).\n');
});
afterAll(() => tmp.cleanup());

function publishArgs(out: string): string[] {
  return ['publish', HF, 'org/tiny-coder', '--dry-run', '-o', out, '--results', results, '--lock', lock, '--data-summary', summary,
    '--base-model', 'org/base', '--tags', 'apr,code-generation', '--json'];
}

function tensors(path: string): Map<string, string> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => [n, Buffer.from(m.tensors.get(n)?.read() ?? new Uint8Array()).toString('base64')]));
  } finally {
    m.tensors.close();
  }
}

describe('apr publish --dry-run', () => {
  it('[ob:publish-roundtrip] [ob:publish-card] [ob:publish-reproducible] writes a folder apr import loads back, with a parseable card, twice the same', () => {
    const out = join(tmp.dir, 'repo');
    const r = runCli('apr', publishArgs(out));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ repoId: 'org/tiny-coder', format: 'safetensors', stages: 2, uploaded: false });
    expect(readdirSync(out).sort()).toEqual(['README.md', 'chat_template.jinja', 'config.json', 'generation_config.json', 'model.safetensors', 'pipeline.lock.json', 'results', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readFileSync(join(out, 'results', 'humaneval_20260328.json'), 'utf8')).toBe(readFileSync(results, 'utf8'));

    const card = readFileSync(join(out, 'README.md'), 'utf8');
    const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(card);
    expect(m).not.toBeNull();
    expect(parse(m?.[1] ?? '')).toEqual({ license: 'mit', pipeline_tag: 'text-generation', library_name: 'apr', tags: ['apr', 'code-generation'], base_model: 'org/base' });
    const body = m?.[2] ?? '';
    for (const h of ['# tiny-coder', '## Base model', '## Pipeline stages (in order)', '## Training data and decontamination', '## Evaluation', '## Quantization and size', '## Files']) expect(body).toContain(h);
    expect(body.indexOf('**import**')).toBeLessThan(body.indexOf('**finetune**'));
    expect(body).toContain('| humaneval | 84.15 | 90.20 | 138/164 |');
    expect(body).toContain('13-gram decontamination');

    const imported = join(tmp.dir, 'back.apr');
    const back = runCli('apr', ['import', out, '-o', imported]);
    expect(back.status, back.stderr).toBe(0);
    expect(tensors(imported)).toEqual(tensors(HF));

    const again = join(tmp.dir, 'repo2');
    expect(runCli('apr', publishArgs(again)).status).toBe(0);
    for (const f of ['README.md', 'model.safetensors', 'config.json', 'tokenizer.json']) expect(readFileSync(join(again, f)).equals(readFileSync(join(out, f))), f).toBe(true);
  }, 80_000);

  it('[ob:publish-no-upload] without --dry-run writes nothing, names HF_TOKEN and exits 2; a bad repo id exits 2', () => {
    const out = join(tmp.dir, 'never');
    const r = runCli('apr', ['publish', HF, 'org/tiny-coder', '-o', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/network access.*HF_TOKEN/);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    const bad = runCli('apr', ['publish', HF, 'org/x--y', '--dry-run', '-o', out]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/invalid repository id 'org\/x--y'/);
    expect(existsSync(out)).toBe(false);
  }, 40_000);

  it('[ob:publish-roundtrip] publishes a quantized model as one GGUF file (SafeTensors cannot hold it: exit 3, nothing written)', () => {
    const demo = 'models/demo.gguf';
    const refused = join(tmp.dir, 'refused');
    const st = runCli('apr', ['publish', demo, 'org/demo', '--dry-run', '-o', refused]);
    expect(st.status).toBe(3);
    expect(st.stderr).toMatch(/quantized \(Q4_K, Q6_K\).*--format gguf/);
    expect(existsSync(refused)).toBe(false);
    const out = join(tmp.dir, 'gguf-repo');
    const r = runCli('apr', ['publish', demo, 'org/demo', '--format', 'gguf', '--dry-run', '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'demo.gguf']);
    expect(tensors(join(out, 'demo.gguf'))).toEqual(tensors(demo));
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('Tensor types: F32 × 13, Q4_K × 39, Q6_K × 5');
  }, 40_000);
});
