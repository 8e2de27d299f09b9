import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApr } from '../../src/formats/apr/index.js';
import { openModel } from '../../src/formats/open.js';
import { diffModels } from '../../src/ops/diff.js';
import { inspectModel } from '../../src/ops/inspect.js';
import { exportModel, importModel } from '../../src/ops/model-io.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const HF = fixture('models/tiny-coder-llama');
const GGUF_F32 = fixture('gguf/tiny-coder-llama-f32.gguf');
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-model-io-');
});
afterAll(() => tmp.cleanup());

/** Every tensor of two models byte for byte (the strongest form of "same tensors"). */
function expectSameBytes(a: string, b: string): void {
  const ma = openModel(a);
  const mb = openModel(b);
  try {
    expect([...mb.tensors.names()].sort()).toEqual([...ma.tensors.names()].sort());
    for (const n of ma.tensors.names()) {
      const ta = ma.tensors.get(n);
      const tb = mb.tensors.get(n);
      expect(tb?.dtype, n).toBe(ta?.dtype);
      expect(tb?.shape, n).toEqual(ta?.shape);
      expect(Buffer.compare(Buffer.from(ta?.read() ?? []), Buffer.from(tb?.read() ?? [])), n).toBe(0);
    }
  } finally {
    ma.tensors.close();
    mb.tensors.close();
  }
}

describe('apr import / export / diff on the real fixtures', () => {
  it('HF folder and llama.cpp f32 GGUF import to the same tensors and tokenizer [ob:convert-cross-format] [ob:diff-models-identical]', () => {
    const a = join(tmp.dir, 'a.apr');
    const b = join(tmp.dir, 'b.apr');
    expect(importModel({ input: HF, output: a }).tensors).toBe(57);
    importModel({ input: GGUF_F32, output: b });
    const d = diffModels(a, b);
    expect(d.max_abs_diff).toBe(0);
    expect(d.identical).toBe(true);
    expect(d.tensors).toHaveLength(57);
    expectSameBytes(a, b);
    const ta = JSON.parse(readApr(a).tokenizer?.json ?? '{}') as { model: { vocab: Record<string, number>; merges: unknown[] }; added_tokens: unknown[] };
    const tb = JSON.parse(readApr(b).tokenizer?.json ?? '{}') as typeof ta;
    expect(tb.model.vocab).toEqual(ta.model.vocab);
    expect(tb.model.merges.map(String)).toEqual(ta.model.merges.map(String));
    expect(readApr(b).tokenizer?.chatTemplate).toBe(readApr(a).tokenizer?.chatTemplate);
  });

  it('HF → APR → safetensors and GGUF → APR → GGUF are bit-exact [ob:convert-lossless]', () => {
    const a = join(tmp.dir, 'rt-a.apr');
    importModel({ input: HF, output: a });
    const hfOut = join(tmp.dir, 'rt-hf');
    exportModel({ input: a, output: hfOut, format: 'safetensors' });
    expectSameBytes(HF, hfOut);
    expect(readFileSync(join(hfOut, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(HF, 'tokenizer.json'), 'utf8'));

    const b = join(tmp.dir, 'rt-b.apr');
    importModel({ input: GGUF_F32, output: b });
    const ggOut = join(tmp.dir, 'rt.gguf');
    exportModel({ input: b, output: ggOut });
    expectSameBytes(GGUF_F32, ggOut);
  });

  it('records provenance with the input digest', () => {
    const a = join(tmp.dir, 'prov.apr');
    const r = importModel({ input: GGUF_F32, output: a });
    const prov = readApr(a).provenance;
    expect(prov.at(-1)?.op).toBe('import');
    expect(prov.at(-1)?.inputDigests).toEqual([r.inputDigest]);
    expect(r.inputDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('inspect counts parameters as transformers does [ob:inspect-counts] [ob:inspect-reference-count]', () => {
    const index = JSON.parse(readFileSync(join(HF, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_parameters: number } };
    for (const path of [HF, GGUF_F32, fixture('gguf/tiny-coder-llama-Q4_K_M.gguf')]) {
      const r = inspectModel(path, true);
      expect(r.parameters, path).toBe(index.metadata.total_parameters);
      expect(Object.values(r.dtypes).reduce((x, y) => x + y, 0)).toBe(r.tensor_count);
    }
  });

  it('leaves no output behind when the conversion fails [ob:convert-atomic]', () => {
    const bad = join(tmp.dir, 'bad.gguf');
    const good = readFileSync(GGUF_F32);
    writeFileSync(bad, good.subarray(0, good.length - 1000));
    const out = join(tmp.dir, 'never.apr');
    const r = runCli('apr', ['import', bad, '-o', out]);
    expect(r.status).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(bad);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('.apr-tmp'))).toEqual([]);
  });
});

describe('apr CLI conventions', () => {
  it('inspect --json prints a parseable summary; diff --json reports identical models', () => {
    const r = runCli('apr', ['inspect', GGUF_F32, '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { architecture: string; tensor_count: number; tokenizer: { vocab_size: number } };
    expect(doc.architecture).toBe('llama');
    expect(doc.tensor_count).toBe(57);
    expect(doc.tokenizer.vocab_size).toBe(4096);
  });

  it('rejects unknown commands and flags with exit 2 and one line', () => {
    for (const args of [['frobnicate'], ['inspect', HF, '--no-such-flag']]) {
      const r = runCli('apr', args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('a missing input gives exit 3 naming the path', () => {
    const r = runCli('apr', ['inspect', '/nonexistent/model.gguf']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('/nonexistent/model.gguf');
  });
});
