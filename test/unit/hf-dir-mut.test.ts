import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { writeDirAtomically } from '../../src/formats/hf-dir/atomic-dir.js';
import { archConfigFromHf, archConfigToHf } from '../../src/formats/hf-dir/config-map.js';
import { pythonJsonDumps } from '../../src/formats/hf-dir/json-text.js';
import { openHfWeights, readHfDir, readHfTokenizer, readJsonFile } from '../../src/formats/hf-dir/read.js';
import { hfTensorOrder, planShards, writeHfDir } from '../../src/formats/hf-dir/write.js';
import { serializeSafetensors } from '../../src/formats/safetensors/write.js';
import type { ArchConfig, ModelBundle, TokenizerSpec } from '../../src/tensor/bundle.js';
import type { DType } from '../../src/tensor/dtype.js';
import type { TensorRef, TensorStore } from '../../src/tensor/store.js';
import { tempDir } from '../helpers.js';

// A pass-through node:fs that can make the tmp → out rename fail and records directory fsyncs.
const spy = vi.hoisted(() => ({ failTmpRename: false, track: false, opened: new Map<number, string>(), closed: new Set<number>(), synced: [] as string[] }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    renameSync: (src: string, dst: string) => {
      if (spy.failTmpRename && basename(src).startsWith('.apr-tmp-')) throw Object.assign(new Error('EXDEV: simulated rename failure'), { code: 'EXDEV' });
      fs.renameSync(src, dst);
    },
    openSync: (...args: Parameters<typeof fs.openSync>) => {
      const fd = fs.openSync(...args);
      if (spy.track) spy.opened.set(fd, String(args[0]));
      return fd;
    },
    fsyncSync: (fd: number) => {
      if (spy.track) spy.synced.push(spy.opened.get(fd) ?? '?');
      fs.fsyncSync(fd);
    },
    closeSync: (fd: number) => {
      if (spy.track) spy.closed.add(fd);
      fs.closeSync(fd);
    },
  };
});

const FIX = resolve(process.cwd(), '../shared/fixtures/models');
const { dir: tmp, cleanup } = tempDir('apr-hf-mut-');
afterAll(cleanup);
afterEach(() => Object.assign(spy, { failTmpRename: false, track: false, opened: new Map(), closed: new Set(), synced: [] }));
let seq = 0;
const fresh = (): string => {
  const d = join(tmp, `case-${++seq}`);
  mkdirSync(d);
  return d;
};
const leftovers = (parent: string): string[] => readdirSync(parent).filter((n) => n.startsWith('.apr-'));

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('accepted');
}

const BYTES: Partial<Record<DType, number>> = { F32: 4, F16: 2, BF16: 2, I8: 1 };
const ref = (name: string, dtype: DType, n: number): TensorRef => {
  const byteLength = n * (BYTES[dtype] ?? 1);
  return { name, dtype, shape: [n], byteLength, read: () => new Uint8Array(byteLength).fill(7) };
};
const store = (refs: TensorRef[]): TensorStore => ({ names: () => refs.map((r) => r.name), get: (n) => refs.find((r) => r.name === n), close: () => undefined });
const CFG: ArchConfig = { architecture: 'llama', hidden_size: 8, num_layers: 1, num_heads: 2, num_kv_heads: 1, head_dim: 4, vocab_size: 16, intermediate_size: 16, rope_theta: 10000, rms_norm_eps: 1e-6, max_position_embeddings: 64, tie_word_embeddings: false, attention_bias: false, bos_token_id: 1, eos_token_id: 2 };
const bundle = (refs: TensorRef[], tokenizer?: TokenizerSpec): ModelBundle => ({ config: CFG, tensors: store(refs), metadata: {}, provenance: [], source: { path: 'mem', format: 'memory' }, ...(tokenizer ? { tokenizer } : {}) });

describe('writeDirAtomically', () => {
  it('an output path that is a file is refused by name, the file untouched', () => {
    const parent = fresh();
    const out = join(parent, 'out');
    writeFileSync(out, 'keep');
    expect(thrown(() => writeDirAtomically(out, () => 1)).message).toBe(`${out}: output: exists and is not a folder`);
    expect(readFileSync(out, 'utf8')).toBe('keep');
    expect(leftovers(parent)).toEqual([]);
  });

  it('a non-empty folder without overwrite is refused before fill runs', () => {
    const out = join(fresh(), 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'a'), 'x');
    const fill = vi.fn((): number => 0);
    expect(() => writeDirAtomically(out, fill)).toThrow(`${out}: output: folder exists and is not empty`);
    expect(fill).not.toHaveBeenCalled();
  });

  it('a folder filled by someone else while writing is not replaced (no overwrite)', () => {
    const parent = fresh();
    const out = join(parent, 'out');
    const err = thrown(() =>
      writeDirAtomically(out, (d) => {
        writeFileSync(join(d, 'mine'), 'm');
        mkdirSync(out);
        writeFileSync(join(out, 'theirs'), 't');
      }),
    );
    expect(err.message).toBe(`${out}: output: folder exists and is not empty (pass overwrite to replace it)`);
    expect(readdirSync(out)).toEqual(['theirs']);
    expect(leftovers(parent)).toEqual([]);
  });

  it('the error of fill propagates even when fill already removed the temporary folder', () => {
    const parent = fresh();
    const err = thrown(() =>
      writeDirAtomically(join(parent, 'out'), (d) => {
        rmSync(d, { recursive: true });
        throw new Error('boom');
      }),
    );
    expect(err.message).toBe('boom');
    expect(readdirSync(parent)).toEqual([]);
  });

  it('with overwrite, a failed swap restores the old folder and reports the error', () => {
    const parent = fresh();
    const out = join(parent, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'old.txt'), 'old');
    spy.failTmpRename = true;
    const err = thrown(() => writeDirAtomically(out, (d) => writeFileSync(join(d, 'new.txt'), 'new'), { overwrite: true }));
    expect(err.message).toBe('EXDEV: simulated rename failure');
    expect(readdirSync(out)).toEqual(['old.txt']);
    expect(leftovers(parent)).toEqual([]);
  });

  it('fsyncs the finished temporary folder and the parent, closing every descriptor it opens', () => {
    const parent = fresh();
    const out = join(parent, 'out');
    let tmpDir = '';
    spy.track = true;
    const r = writeDirAtomically(out, (d) => {
      tmpDir = d;
      writeFileSync(join(d, 'f'), 'x');
      return 42;
    });
    spy.track = false;
    expect(r).toBe(42);
    expect(spy.synced).toEqual([tmpDir, parent]);
    expect([...spy.opened.keys()].filter((fd) => !spy.closed.has(fd))).toEqual([]);
    expect(readdirSync(out)).toEqual(['f']);
  });
});

describe('pythonJsonDumps (json.dumps(indent=2, sort_keys=True))', () => {
  const v = { b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'é😀', e: [] } };
  const text = (c: string) => `{\n  "a": {\n    "c": "${c}",\n    "d": [\n      1,\n      {\n        "y": 2,\n        "z": 1\n      }\n    ],\n    "e": []\n  },\n  "b": 1\n}`;
  it('ensure_ascii=True escapes non-ASCII as Python does (lowercase hex, surrogate pairs)', () => {
    expect(pythonJsonDumps(v, { ensureAscii: true })).toBe(text('\\u00e9\\ud83d\\ude00'));
  });
  it('ensure_ascii=False (the default here) keeps the characters', () => {
    expect(pythonJsonDumps(v)).toBe(text('é😀'));
    expect(pythonJsonDumps(v, { ensureAscii: false })).toBe(text('é😀'));
  });
});

describe('archConfigFromHf / archConfigToHf', () => {
  const base = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, num_attention_heads: 8, num_hidden_layers: 2, vocab_size: 4096, intermediate_size: 512 };
  const defaults: ArchConfig = { architecture: 'llama', hidden_size: 256, num_layers: 2, num_heads: 8, num_kv_heads: 8, head_dim: 32, vocab_size: 4096, intermediate_size: 512, rope_theta: 10000, rms_norm_eps: 1e-6, max_position_embeddings: 2048, tie_word_embeddings: false, attention_bias: false, bos_token_id: null, eos_token_id: null };
  const from = (cfg: Record<string, unknown>) => archConfigFromHf('c.json', cfg);

  it('transformers defaults for absent keys (head_dim = hidden/heads, kv heads = heads, eps 1e-6, 2048 positions)', () => {
    expect(from(base)).toEqual(defaults);
  });

  it('the tiny-coder-llama config.json written by transformers', () => {
    const cfg = JSON.parse(readFileSync(join(FIX, 'tiny-coder-llama/config.json'), 'utf8')) as Record<string, unknown>;
    expect(from(cfg)).toEqual({ ...defaults, num_layers: 6, num_kv_heads: 4, vocab_size: 4096, rms_norm_eps: 1e-5, max_position_embeddings: 1024, eos_token_id: 0 });
  });

  it('an explicit head_dim wins over hidden/heads', () => {
    expect(from({ ...base, num_attention_heads: 4, num_key_value_heads: 4, head_dim: 32 })).toMatchObject({ num_heads: 4, head_dim: 32 });
    expect(from({ ...base, num_attention_heads: 4 }).head_dim).toBe(64);
  });

  it('architecture from architectures[0], else model_type; an unknown class falls back to model_type', () => {
    const { model_type: _m, ...noType } = base;
    const { architectures: _a, ...noClass } = base;
    expect(from(noType).architecture).toBe('llama');
    expect(from({ ...noClass, model_type: 'qwen2' })).toMatchObject({ architecture: 'qwen2', attention_bias: true });
    expect(from({ ...base, architectures: ['LlamaForCausalLMCustom'], model_type: 'mistral' }).architecture).toBe('mistral');
    expect(from({ ...base, architectures: ['Qwen2ForCausalLM'] }).architecture).toBe('qwen2');
  });

  it('tie_word_embeddings defaults true for Gemma 2/3 only; attention_bias true for Qwen2 only; explicit booleans win', () => {
    expect(from({ ...base, architectures: ['Gemma2ForCausalLM'] }).tie_word_embeddings).toBe(true);
    expect(from({ ...base, architectures: ['Gemma3ForCausalLM'] }).tie_word_embeddings).toBe(true);
    expect(from({ ...base, architectures: ['Gemma3ForCausalLM'], tie_word_embeddings: false }).tie_word_embeddings).toBe(false);
    expect(from({ ...base, tie_word_embeddings: true }).tie_word_embeddings).toBe(true);
    expect(from({ ...base, architectures: ['Qwen2ForCausalLM'], attention_bias: false }).attention_bias).toBe(false);
    expect(from({ ...base, attention_bias: true }).attention_bias).toBe(true);
  });

  it.each([
    [{ architectures: ['BertModel'], model_type: 'bert' }, 'architectures: unsupported architecture "BertModel" (supported: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM, Phi3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM)'],
    [{ architectures: undefined, model_type: 'bert' }, 'architectures: unsupported architecture "bert" (supported: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM, Phi3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM)'],
    [{ hidden_size: '256' }, 'hidden_size: expected a number, got "256"'],
    [{ vocab_size: undefined }, 'vocab_size: expected a number, got undefined'],
    [{ rms_norm_eps: Infinity }, 'rms_norm_eps: expected a number, got null'],
    [{ head_dim: Number.NaN }, 'head_dim: expected a number, got null'],
  ])('malformed %o → one-line FormatError', (patch, message) => {
    const err = thrown(() => from({ ...base, ...patch }));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toBe(`c.json: ${message}`);
  });

  it('schema violations name the (nested) field', () => {
    const e1 = thrown(() => from({ ...base, hidden_size: 256.5 })) as FormatError;
    expect([e1.file, e1.field]).toEqual(['c.json', 'hidden_size']);
    expect(e1.message).toMatch(/^c\.json: hidden_size: .*expected int/);
    const e2 = thrown(() => from({ ...base, eos_token_id: [2, -1] })) as FormatError;
    expect(e2.field).toBe('eos_token_id.1');
  });

  it('archConfigToHf: token ids as given (null when absent), dtype float32', () => {
    const hf = archConfigToHf({ ...CFG, bos_token_id: 1, eos_token_id: [2, 3] });
    expect([hf['bos_token_id'], hf['eos_token_id'], hf['dtype']]).toEqual([1, [2, 3], 'float32']);
    const { bos_token_id: _b, eos_token_id: _e, ...noIds } = CFG;
    const hf2 = archConfigToHf(noIds);
    expect([hf2['bos_token_id'], hf2['eos_token_id']]).toEqual([null, null]);
  });
});

function weightsFolder(shards: Record<string, string[]>, weightMap?: unknown): string {
  const dir = fresh();
  for (const [file, names] of Object.entries(shards)) writeFileSync(join(dir, file), serializeSafetensors(names.map((n) => ref(n, 'I8', 2))));
  if (weightMap !== undefined) writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

describe('reading', () => {
  it('readJsonFile: unreadable, not an object, not JSON', () => {
    const dir = fresh();
    const p = join(dir, 'x.json');
    expect(thrown(() => readJsonFile(p)).message).toBe(`${p}: file: cannot read (ENOENT)`);
    for (const text of ['[1]', 'null', '3']) {
      writeFileSync(p, text);
      expect(thrown(() => readJsonFile(p)).message, text).toBe(`${p}: json: expected a JSON object`);
    }
    writeFileSync(p, '{');
    const err = thrown(() => readJsonFile(p)) as FormatError;
    expect([err.file, err.field]).toEqual([p, 'json']);
    writeFileSync(p, '{"k": "é"}');
    expect(readJsonFile(p)).toEqual({ k: 'é' });
  });

  it('weight_map null, or a shard that is not a string, is refused', () => {
    const d1 = weightsFolder({ 'a.safetensors': ['x'] }, null);
    expect(thrown(() => openHfWeights(d1)).message).toBe(`${join(d1, 'model.safetensors.index.json')}: weight_map: missing or not an object`);
    const d2 = weightsFolder({ 'a.safetensors': ['x'] }, { x: ['a.safetensors'] });
    expect(thrown(() => openHfWeights(d2)).message).toBe(`${join(d2, 'model.safetensors.index.json')}: weight_map.x: expected a .safetensors file name in the folder, got ["a.safetensors"]`);
  });

  it('shards are checked in file-name order, whatever the order of weight_map', () => {
    const d = weightsFolder({ 'a.safetensors': ['y', 'u'], 'b.safetensors': ['x', 'v'] }, { x: 'b.safetensors', y: 'a.safetensors' });
    expect(thrown(() => openHfWeights(d)).message).toBe(`${join(d, 'a.safetensors')}: u: tensor not listed in model.safetensors.index.json`);
  });

  it('a folder without weights names both expected files', () => {
    const d = fresh();
    expect(thrown(() => openHfWeights(d)).message).toBe(`${d}: weights: no model.safetensors or model.safetensors.index.json`);
  });

  it('names() sorted, get() the tensor, close() releases the shards', () => {
    const d = weightsFolder({ 'a.safetensors': ['b', 'c'], 'b.safetensors': ['a'] }, { c: 'a.safetensors', b: 'a.safetensors', a: 'b.safetensors' });
    const s = openHfWeights(d);
    expect(s.names()).toEqual(['a', 'b', 'c']);
    const t = s.get('c')!;
    expect([t.name, t.dtype, t.shape, [...t.read()]]).toEqual(['c', 'I8', [2], [7, 7]]);
    s.close();
    expect(() => t.read()).toThrow(/after close/);
  });

  it('tokenizer files: each optional; the template from chat_template.jinja, else a string in tokenizer_config.json', () => {
    const d = fresh();
    expect(readHfTokenizer(d)).toBeUndefined();
    writeFileSync(join(d, 'tokenizer.json'), '{"v":"é"}');
    expect(readHfTokenizer(d)).toEqual({ json: '{"v":"é"}' });
    writeFileSync(join(d, 'tokenizer_config.json'), '{"chat_template":[{"name":"default","template":"x"}]}');
    expect(readHfTokenizer(d)).toEqual({ json: '{"v":"é"}', config: { chat_template: [{ name: 'default', template: 'x' }] } });
    writeFileSync(join(d, 'tokenizer_config.json'), '{"chat_template":"{{ é }}"}');
    expect(readHfTokenizer(d)?.chatTemplate).toBe('{{ é }}');
    writeFileSync(join(d, 'chat_template.jinja'), '{{ jinja é }}');
    writeFileSync(join(d, 'generation_config.json'), '{"do_sample":true}');
    expect(readHfTokenizer(d)).toEqual({ json: '{"v":"é"}', config: { chat_template: '{{ é }}' }, chatTemplate: '{{ jinja é }}', generationConfig: { do_sample: true } });
  });

  it('readHfDir: errors name config.json; the bundle has no tokenizer when the folder has none', () => {
    const d = weightsFolder({ 'model.safetensors': ['model.norm.weight'] });
    writeFileSync(join(d, 'config.json'), JSON.stringify({ architectures: ['BertModel'] }));
    expect((thrown(() => readHfDir(d)) as FormatError).file).toBe(join(d, 'config.json'));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 16, intermediate_size: 16 }));
    const b = readHfDir(d);
    expect(b.tensors.names()).toEqual(['model.norm.weight']);
    b.tensors.close();
    expect({ ...b, config: null, tensors: null }).toEqual({ config: null, tensors: null, metadata: {}, provenance: [], source: { path: d, format: 'hf-dir' } });
  });
});

describe('writing', () => {
  it('sharded: shard names, index text as transformers writes it (sorted, ascii-escaped), file list and byte totals', () => {
    const out = join(fresh(), 'out');
    const refs = [ref('zé', 'I8', 2), ref('lm_head.weight', 'F32', 4), ref('model.norm.weight', 'F32', 4), ref('model.embed_tokens.weight', 'F32', 4)];
    const r = writeHfDir(bundle(refs), out, { maxShardBytes: 20 });
    const names = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
    expect(r.shards.map((s) => [s.file, s.tensors])).toEqual([[names[0], ['model.embed_tokens.weight']], [names[1], ['model.norm.weight']], [names[2], ['lm_head.weight', 'zé']]]);
    expect(r.files).toEqual(['config.json', ...names, 'model.safetensors.index.json']);
    expect(readdirSync(out).sort()).toEqual([...r.files].sort());
    const sizes = names.map((n) => statSync(join(out, n)).size);
    expect(r.shards.map((s) => s.bytes)).toEqual(sizes);
    expect(r.totalBytes).toBe(sizes[0]! + sizes[1]! + sizes[2]!);
    const map = (i: number) => `model-0000${i}-of-00003.safetensors`;
    expect(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8')).toBe(
      `{\n  "metadata": {\n    "total_parameters": 14,\n    "total_size": 50\n  },\n  "weight_map": {\n    "lm_head.weight": "${map(3)}",\n    "model.embed_tokens.weight": "${map(1)}",\n    "model.norm.weight": "${map(2)}",\n    "z\\u00e9": "${map(3)}"\n  }\n}\n`,
    );
    // config.json opens as the transformers-written fixture does (sorted keys, 2-space indent).
    const head = (p: string) => readFileSync(p, 'utf8').split('\n').slice(0, 5).join('\n');
    expect(head(join(out, 'config.json'))).toBe(head(join(FIX, 'tiny-coder-llama/config.json')));
  });

  it('single file: no index; tokenizer files listed; chat_template dropped from tokenizer_config only when it equals the .jinja', () => {
    const out = join(fresh(), 'out');
    const tok: TokenizerSpec = { json: '{}', chatTemplate: 'T', config: { chat_template: 'T', k: 1 }, generationConfig: { g: 1 } };
    const r = writeHfDir(bundle([ref('model.norm.weight', 'F32', 4)], tok), out);
    expect(r.files).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'chat_template.jinja', 'tokenizer_config.json', 'generation_config.json']);
    expect(r.totalBytes).toBe(statSync(join(out, 'model.safetensors')).size);
    expect(readdirSync(out).sort()).toEqual([...r.files].sort());
    expect(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).toBe('{\n  "k": 1\n}\n');
    expect(readFileSync(join(out, 'chat_template.jinja'), 'utf8')).toBe('T');
    const out2 = join(fresh(), 'out');
    writeHfDir(bundle([ref('model.norm.weight', 'F32', 4)], { json: '{}', chatTemplate: 'T', config: { chat_template: 'other' } }), out2);
    expect(readJsonFile(join(out2, 'tokenizer_config.json'))).toEqual({ chat_template: 'other' });
  });

  it('tokenizer with json only, and a bundle without tokenizer', () => {
    const out = join(fresh(), 'out');
    expect(writeHfDir(bundle([ref('model.norm.weight', 'F32', 4)], { json: '{"t":1}' }), out).files).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe('{"t":1}');
    const out2 = join(fresh(), 'out');
    expect(writeHfDir(bundle([ref('model.norm.weight', 'F32', 4)]), out2).files).toEqual(['config.json', 'model.safetensors']);
  });

  it('no tensors: still one (empty) model.safetensors', () => {
    const out = join(fresh(), 'out');
    const r = writeHfDir(bundle([]), out);
    expect(r.files).toEqual(['config.json', 'model.safetensors']);
    expect(openHfWeights(out).names()).toEqual([]);
  });

  it.each([
    ['bfloat16', [ref('a', 'BF16', 8)]],
    ['float16', [ref('a', 'F16', 8)]],
    ['float32', [ref('a', 'F32', 8)]],
    ['float32', [ref('a', 'F32', 8), ref('b', 'BF16', 4)]],
    ['float32', [ref('a', 'F32', 8), ref('b', 'F16', 4)]],
    ['float32', [ref('a', 'F32', 4), ref('b', 'BF16', 8)]],
    ['float32', [ref('a', 'F32', 4), ref('b', 'F16', 8)]],
    ['bfloat16', [ref('a', 'BF16', 8), ref('b', 'F16', 8), ref('c', 'I8', 64)]],
    ['float16', [ref('a', 'BF16', 4), ref('b', 'F16', 8)]],
    ['bfloat16', [ref('a', 'BF16', 8), ref('b', 'F16', 4), ref('c', 'F32', 2)]],
  ])('config.json dtype %s: the float dtype with most bytes (ties: float32, then bfloat16)', (dtype, refs) => {
    const out = join(fresh(), 'out');
    writeHfDir(bundle(refs), out);
    expect(readJsonFile(join(out, 'config.json'))['dtype']).toBe(dtype);
  });

  it('maxShardBytes must be positive; a bad tensor is reported against <out>/model.safetensors', () => {
    const out = join(fresh(), 'out');
    for (const m of [0, -1, Number.NaN]) expect(thrown(() => writeHfDir(bundle([]), out, { maxShardBytes: m })).message).toBe(`maxShardBytes must be positive, got ${m}`);
    expect(writeHfDir(bundle([ref('a', 'I8', 2)]), out, { maxShardBytes: 1 }).files).toEqual(['config.json', 'model.safetensors']);
    const q: TensorRef = { name: 'q', dtype: 'Q8_0', shape: [32], byteLength: 34, read: () => new Uint8Array(34) };
    expect(thrown(() => writeHfDir(bundle([q]), join(fresh(), 'o'))).message).toMatch(new RegExp(`^${join(tmp, 'case-\\d+', 'o', 'model\\.safetensors')}: q\\.dtype: Q8_0 cannot`));
  });

  it('planShards: a tensor of exactly the limit is not "oversized"; no empty trailing shard', () => {
    const t = (name: string, n: number) => ref(name, 'I8', n);
    expect(planShards([t('a', 4), t('b', 10), t('c', 1)], 10).map((s) => s.map((x) => x.name))).toEqual([['a'], ['b'], ['c']]);
    expect(planShards([t('c', 11)], 10).map((s) => s.map((x) => x.name))).toEqual([['c']]);
    expect(planShards([], 10)).toEqual([]);
  });

  it('hfTensorOrder: unknown modules last within their layer; unknown names by name', () => {
    expect(hfTensorOrder(['model.layers.0.self_attn.rotary.weight', 'model.layers.0.input_layernorm.weight'])).toEqual(['model.layers.0.input_layernorm.weight', 'model.layers.0.self_attn.rotary.weight']);
    expect(hfTensorOrder(['z.x', 'a.y', 'm.q', 'b.b', 'model.norm.weight'])).toEqual(['model.norm.weight', 'a.y', 'b.b', 'm.q', 'z.x']);
  });
});
