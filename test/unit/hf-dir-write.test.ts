import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { archConfigFromHf } from '../../src/formats/hf-dir/config-map.js';
import { readHfDir, readJsonFile } from '../../src/formats/hf-dir/read.js';
import { hfTensorOrder, planShards, writeHfDir } from '../../src/formats/hf-dir/write.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../src/tensor/store.js';

const FIX = resolve(process.cwd(), '../shared/fixtures/models');
const tmp = mkdtempSync(join(tmpdir(), 'apr-hf-write-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json'];
const same = (a: string, b: string) => Buffer.compare(readFileSync(a), readFileSync(b)) === 0;

function expectSameTensors(a: TensorStore, b: TensorStore): void {
  expect([...b.names()].sort()).toEqual([...a.names()].sort());
  for (const n of a.names()) {
    const x = a.get(n)!;
    const y = b.get(n)!;
    expect([y.dtype, y.shape]).toEqual([x.dtype, x.shape]);
    expect(Buffer.compare(Buffer.from(y.read()), Buffer.from(x.read())), n).toBe(0);
  }
}

describe('writeHfDir', () => {
  it('tiny-coder-llama with max_shard_size 8 MB (as the fixture was saved): every file but config.json is byte-identical', () => {
    const src = join(FIX, 'tiny-coder-llama');
    const b = readHfDir(src);
    const out = join(tmp, 'coder-8mb');
    const r = writeHfDir(b, out, { maxShardBytes: 8_000_000 });
    expect(r.shards.map((s) => s.file)).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    for (const f of [...r.shards.map((s) => s.file), 'model.safetensors.index.json', ...TOKENIZER_FILES]) expect(same(join(out, f), join(src, f)), f).toBe(true);
    // config.json: same architecture once read back (float formatting and unmapped keys differ).
    const cfg = readJsonFile(join(out, 'config.json'));
    expect(archConfigFromHf('out', cfg)).toEqual(b.config);
    expect(cfg['architectures']).toEqual(['LlamaForCausalLM']);
    expect(cfg['dtype']).toBe('float32');
    expect(readdirSync(tmp).filter((n) => n.startsWith('.apr-'))).toEqual([]);
    b.tensors.close();
  });

  it('single file (default 5 GB limit) and many small shards both read back to the same tensors and tokenizer files', () => {
    const src = join(FIX, 'tiny-coder-llama');
    const b = readHfDir(src);
    for (const [label, maxShardBytes] of [
      ['single', undefined],
      ['1mb', 1_000_000],
    ] as const) {
      const out = join(tmp, `coder-${label}`);
      writeHfDir(b, out, maxShardBytes === undefined ? {} : { maxShardBytes });
      const files = readdirSync(out);
      if (label === 'single') {
        expect(files).toContain('model.safetensors');
        expect(files).not.toContain('model.safetensors.index.json');
      } else {
        // 4 MB embedding and lm_head exceed the limit: each gets its own shard, as huggingface_hub does.
        const index = readJsonFile(join(out, 'model.safetensors.index.json'));
        const map = index['weight_map'] as Record<string, string>;
        expect(Object.values(map).filter((f) => f === map['lm_head.weight'])).toHaveLength(1);
        expect(files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(10);
        expect((index['metadata'] as Record<string, number>)['total_size']).toBe(22557696);
      }
      const back = readHfDir(out);
      expect(back.config).toEqual(b.config);
      expectSameTensors(b.tensors, back.tensors);
      for (const f of TOKENIZER_FILES) expect(same(join(out, f), join(src, f)), f).toBe(true);
      back.tensors.close();
    }
    b.tensors.close();
  });

  it('tied model: lm_head is not written even when the bundle carries one', () => {
    const b = readHfDir(join(FIX, 'tiny-draft-llama'));
    expect(b.config.tie_word_embeddings).toBe(true);
    const embed = b.tensors.get('model.embed_tokens.weight')!;
    const lm: TensorRef = { ...embed, name: 'lm_head.weight', read: () => embed.read() };
    const tensors: TensorStore = { names: () => [...b.tensors.names(), 'lm_head.weight'], get: (n) => (n === 'lm_head.weight' ? lm : b.tensors.get(n)), close: () => b.tensors.close() };
    const out = join(tmp, 'draft');
    writeHfDir({ ...b, tensors }, out);
    expect(same(join(out, 'model.safetensors'), join(FIX, 'tiny-draft-llama/model.safetensors'))).toBe(true);
    b.tensors.close();
  });

  it('a failure midway leaves no output folder and no temporary folder', () => {
    const b = readHfDir(join(FIX, 'tiny-draft-llama'));
    const parent = mkdtempSync(join(tmp, 'fail-'));
    let reads = 0;
    const tensors: TensorStore = {
      names: () => b.tensors.names(),
      get: (n) => {
        const t = b.tensors.get(n)!;
        return { ...t, read: () => (++reads > 5 ? new Uint8Array(1) : t.read()) };
      },
      close: () => b.tensors.close(),
    };
    expect(() => writeHfDir({ ...b, tensors }, join(parent, 'out'))).toThrow(FormatError);
    expect(reads).toBeGreaterThan(5);
    expect(readdirSync(parent)).toEqual([]);
    b.tensors.close();
  });

  it('a quantized tensor is refused before anything is written', () => {
    const b = readHfDir(join(FIX, 'tiny-draft-llama'));
    const q: TensorRef = { name: 'model.norm.weight', dtype: 'Q8_0', shape: [128], byteLength: 136, read: () => new Uint8Array(136) };
    const tensors: TensorStore = { names: () => b.tensors.names(), get: (n) => (n === q.name ? q : b.tensors.get(n)), close: () => b.tensors.close() };
    const out = join(tmp, 'quant');
    expect(() => writeHfDir({ ...b, tensors }, out)).toThrow(/model\.norm\.weight\.dtype: Q8_0 cannot be stored in safetensors \(export as gguf/);
    expect(existsSync(out)).toBe(false);
    b.tensors.close();
  });

  it('an existing folder: empty is replaced, non-empty needs overwrite and is then swapped whole', () => {
    const b: ModelBundle = readHfDir(join(FIX, 'tiny-draft-llama'));
    const out = join(tmp, 'exists');
    mkdirSync(out);
    writeHfDir(b, out);
    writeFileSync(join(out, 'stale.txt'), 'x');
    expect(() => writeHfDir(b, out)).toThrow(/exists: output: folder exists and is not empty/);
    writeHfDir(b, out, { overwrite: true });
    expect(existsSync(join(out, 'stale.txt'))).toBe(false);
    expect(same(join(out, 'model.safetensors'), join(FIX, 'tiny-draft-llama/model.safetensors'))).toBe(true);
    b.tensors.close();
  });
});

describe('shard planning (huggingface_hub split_state_dict_into_shards)', () => {
  const t = (name: string, byteLength: number): TensorRef => ({ name, dtype: 'I8', shape: [byteLength], byteLength, read: () => new Uint8Array(byteLength) });
  it('greedy in state-dict order; an oversized tensor gets its own shard at once (before the open one closes); exact fill stays', () => {
    const shards = planShards([t('a', 4), t('b', 6), t('c', 11), t('d', 5), t('e', 5), t('f', 1)], 10);
    expect(shards.map((s) => s.map((x) => x.name))).toEqual([['c'], ['a', 'b'], ['d', 'e'], ['f']]);
  });

  it('state-dict order of Llama/Qwen2 names', () => {
    const names = ['lm_head.weight', 'model.norm.weight', 'model.layers.10.mlp.up_proj.weight', 'model.layers.2.input_layernorm.weight', 'model.layers.2.self_attn.q_proj.bias', 'model.layers.2.self_attn.q_proj.weight', 'model.layers.2.self_attn.k_proj.weight', 'model.embed_tokens.weight', 'extra.thing'];
    expect(hfTensorOrder(names)).toEqual(['model.embed_tokens.weight', 'model.layers.2.self_attn.q_proj.weight', 'model.layers.2.self_attn.q_proj.bias', 'model.layers.2.self_attn.k_proj.weight', 'model.layers.2.input_layernorm.weight', 'model.layers.10.mlp.up_proj.weight', 'model.norm.weight', 'lm_head.weight', 'extra.thing']);
  });
});
