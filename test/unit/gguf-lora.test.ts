/**
 * llama.cpp LoRA GGUF ↔ PEFT, against llama.cpp's own output: `tiny-coder-llama-lora-email-f32.gguf` is the
 * PEFT fixture adapter converted by convert_lora_to_gguf.py (llama.cpp 80fb11a). The naming keys are also
 * checked against gguf-py's Metadata in test/unit/gguf-lora-gguf-py.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { ggufValueToJson } from '../../src/formats/gguf/json-values.js';
import { ggufLoraAsPeft, openGgufLora, readGgufLora } from '../../src/formats/gguf/lora.js';
import { modelCardFromKv } from '../../src/formats/gguf/lora-meta.js';
import { writeGgufLora } from '../../src/formats/gguf/lora-write.js';
import { type GgufFile, readGguf } from '../../src/formats/gguf/read.js';
import { writeGguf } from '../../src/formats/gguf/write.js';
import { readPeftAdapter, writePeftAdapter } from '../../src/formats/peft/adapter.js';
import { adapterFormat, openLoraAdapter } from '../../src/formats/peft/open.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { fixture, tempDir } from '../helpers.js';

const GGUF = fixture('gguf/tiny-coder-llama-lora-email-f32.gguf');
const PEFT = fixture('adapters/tiny-coder-llama-lora-email');
/** tiny-coder-llama: 8 heads, 4 KV heads (fixtures/README.md). */
const BASE = { architecture: 'llama' as const, num_heads: 8, num_kv_heads: 4 };
const tmp = tempDir('apr-gguf-lora-');
afterAll(() => tmp.cleanup());

/** Keys convert_lora_to_gguf.py took from the adapter folder's README.md, which the fixture folder does not ship. */
const CARD_KEYS = /^general\.(base_model\.|tags$)/;

function kvJson(f: GgufFile): [string, unknown][] {
  return [...f.kv].map(([k, v]) => [k, [v.type, ggufValueToJson(v)]]);
}

function withFile<T>(path: string, fn: (f: GgufFile) => T): T {
  const f = readGguf(path);
  try {
    return fn(f);
  } finally {
    f.close();
  }
}

/** Names, types, dims and bytes of every tensor, in file order. */
function tensorList(f: GgufFile): [string, string, number[], string][] {
  return f.tensors.map((t) => [t.name, t.ggmlType, t.dims, Buffer.from(f.read(t)).toString('base64')]);
}

describe('reading llama.cpp LoRA GGUFs', () => {
  it('[ob:adapter-gguf-reads-as-peft] the fixture GGUF read as PEFT equals the PEFT fixture byte for byte', () => {
    const fromGguf = readGgufLora(GGUF, BASE);
    const peft = readPeftAdapter(PEFT);
    expect([...fromGguf.tensors.names()].sort()).toEqual([...peft.tensors.names()].sort());
    for (const n of peft.tensors.names()) {
      const a = fromGguf.tensors.get(n)!;
      const b = peft.tensors.get(n)!;
      expect([a.dtype, a.shape]).toEqual([b.dtype, b.shape]);
      expect(Buffer.compare(Buffer.from(a.read()), Buffer.from(b.read())), n).toBe(0);
    }
    expect(fromGguf.config).toMatchObject({ r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], use_rslora: false, use_dora: false });
    expect(fromGguf.layout.modules.map((m) => m.scale)).toEqual(Array(12).fill(2));
    fromGguf.tensors.close();
    peft.tensors.close();
  });

  it("without the base's head counts, llama's permuted q_proj factors are refused (one line naming the tensor)", () => {
    expect(() => readGgufLora(GGUF)).toThrow(/tiny-coder-llama-lora-email-f32\.gguf: tensor 'blk\.0\.attn_q\.weight\.lora_b': undoing llama's Q\/K RoPE/);
    expect(() => readGgufLora(GGUF, { ...BASE, architecture: 'qwen2' })).toThrow(/general\.architecture: a 'llama' adapter does not fit a 'qwen2' base model/);
  });

  it('tells adapters from models and PEFT folders from others', () => {
    expect(adapterFormat(GGUF)).toBe('gguf');
    expect(adapterFormat(PEFT)).toBe('peft');
    expect(adapterFormat(fixture('gguf/tiny-coder-llama-f32.gguf'))).toBeUndefined();
    expect(adapterFormat(fixture('models/tiny-coder-llama'))).toBeUndefined();
    expect(() => openLoraAdapter(fixture('gguf/tiny-coder-llama-f32.gguf'))).toThrow(/general\.type: not a LoRA adapter/);
  });

  /** A one-pair adapter GGUF with the given keys and lora_a dims. */
  function plant(name: string, kv: Record<string, string>, aDims = [4, 2], extra: string[] = []): string {
    const path = join(tmp.dir, name);
    const map = new Map(Object.entries({ 'general.architecture': 'llama', 'general.type': 'adapter', 'adapter.type': 'lora', ...kv }).map(([k, v]) => [k, { type: 'string' as const, value: v }]));
    const t = (n: string, dims: number[]) => ({ name: n, ggmlType: 'F32' as const, dims, read: () => new Uint8Array(dims[0]! * dims[1]! * 4) });
    writeGguf(path, map, [t('blk.0.attn_v.weight.lora_a', aDims), t('blk.0.attn_v.weight.lora_b', [2, 3]), ...extra.map((n) => t(n, [2, 2]))]);
    return path;
  }

  it('rejects malformed adapters with one line naming the file and the field', () => {
    const cases: [string, RegExp][] = [
      [plant('model.gguf', { 'general.type': 'model' }), /general\.type: expected 'adapter', got "model"/],
      [plant('control.gguf', { 'adapter.type': 'control_vector' }), /adapter\.type: expected 'lora', got "control_vector"/],
      [plant('untransposed.gguf', {}, [2, 4]), /blk\.0\.attn_v\.weight\.lora_a'\.dims: lora_a ne\[1\] = 4 but lora_b ne\[0\] = 2 \(lora_a is not transposed\)/],
      [plant('half.gguf', {}, [4, 2], ['blk.0.attn_k.weight.lora_a']), /blk\.0\.attn_k\.weight\.lora_b': missing/],
      [plant('odd.gguf', {}, [4, 2], ['blk.0.attn_k.weight.delta']), /blk\.0\.attn_k\.weight\.delta': unexpected name/],
      [plant('unmapped.gguf', {}, [4, 2], ['blk.0.ssm_x.weight.lora_a', 'blk.0.ssm_x.weight.lora_b']), /'blk\.0\.ssm_x\.weight' is not a weight apr maps/],
    ];
    for (const [path, re] of cases) {
      expect(() => openGgufLora(path)).toThrow(FormatError);
      expect(() => openGgufLora(path)).toThrow(re);
    }
  });

  it('alpha 0 means a scale of 1 (llama.cpp get_scale): PEFT sees alpha = r', () => {
    const lora = openGgufLora(plant('alpha0.gguf', {}));
    expect(lora.alpha).toBe(0);
    const ad = ggufLoraAsPeft(lora, BASE);
    expect(ad.config).toMatchObject({ r: 2, lora_alpha: 2 });
    expect(ad.layout.modules[0]?.scale).toBe(1);
    ad.tensors.close();
  });
});

describe('writing llama.cpp LoRA GGUFs', () => {
  it('[ob:adapter-gguf-write-matches-convert] the PEFT fixture written as GGUF has the tensors and keys of convert_lora_to_gguf.py', () => {
    const out = join(tmp.dir, 'from-peft.gguf');
    const ad = readPeftAdapter(PEFT);
    writeGgufLora(out, ad, { base: BASE });
    ad.tensors.close();
    const [ours, theirs] = [withFile(out, (f) => [tensorList(f), kvJson(f)] as const), withFile(GGUF, (f) => [tensorList(f), kvJson(f)] as const)];
    expect(ours[0]).toEqual(theirs[0]);
    // every key but the model-card ones, with the same type, value and order
    expect(ours[1]).toEqual(theirs[1].filter(([k]) => !CARD_KEYS.test(k)));
    expect(theirs[1].filter(([k]) => CARD_KEYS.test(k)).map(([k]) => k)).toEqual(['general.base_model.count', 'general.base_model.0.name', 'general.base_model.0.repo_url', 'general.tags']);
  });

  it('[ob:adapter-roundtrip] GGUF → PEFT folder (with a README.md model card) → GGUF gives back llama.cpp\'s file byte for byte', () => {
    const dir = join(tmp.dir, 'tiny-coder-llama-lora-email');
    const lora = openGgufLora(GGUF);
    const ad = ggufLoraAsPeft(lora, BASE);
    writePeftAdapter(dir, ad.config, ad.tensors, { readme: modelCardFromKv(lora.file.kv) });
    ad.tensors.close();
    const back = readPeftAdapter(dir);
    const out = join(tmp.dir, 'roundtrip.gguf');
    writeGgufLora(out, back, { base: BASE });
    back.tensors.close();
    expect(withFile(out, tensorList)).toEqual(withFile(GGUF, tensorList));
    expect(withFile(out, kvJson)).toEqual(withFile(GGUF, kvJson));
    expect(Buffer.compare(readFileSync(out), readFileSync(GGUF))).toBe(0);
  });

  it('refuses what a LoRA GGUF cannot express, naming the field', () => {
    const ad = readPeftAdapter(PEFT);
    const variant = (name: string, patch: Record<string, unknown>) => {
      const dir = join(tmp.dir, name);
      writePeftAdapter(dir, { ...ad.config, ...patch }, ad.tensors);
      const v = readPeftAdapter(dir);
      try {
        writeGgufLora(join(tmp.dir, `${name}.gguf`), v, { base: BASE });
        return 'written';
      } catch (err) {
        return String(err);
      } finally {
        v.tensors.close();
      }
    };
    expect(variant('rs', { use_rslora: true })).toMatch(/^FormatError: \S*rs: use_rslora: rsLoRA scales by alpha\/√r/);
    expect(variant('ap', { alpha_pattern: { v_proj: 4 } })).toMatch(/alpha_pattern\.v_proj: alpha 4 differs from lora_alpha 16/);
    expect(variant('ap-same', { alpha_pattern: { v_proj: 16 } })).toBe('written');
    expect(existsSync(join(tmp.dir, 'rs.gguf'))).toBe(false);
    ad.tensors.close();
  });

  it('an embedding LoRA goes to token_embd with lora_a transposed, and comes back', () => {
    const s = new MemoryTensorStore();
    const f32 = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
    // lora_embedding_A [r=2, vocab=3], lora_embedding_B [dim=2, r=2]
    s.add('base_model.model.model.embed_tokens.lora_embedding_A', 'F32', [2, 3], f32([1, 2, 3, 4, 5, 6]));
    s.add('base_model.model.model.embed_tokens.lora_embedding_B', 'F32', [2, 2], f32([7, 8, 9, 10]));
    const dir = join(tmp.dir, 'embed-adapter');
    writePeftAdapter(dir, { peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['embed_tokens'] }, s);
    const out = join(tmp.dir, 'embed.gguf');
    const ad = readPeftAdapter(dir);
    writeGgufLora(out, ad, { base: BASE });
    ad.tensors.close();
    withFile(out, (f) => {
      const a = f.tensors.find((t) => t.name === 'token_embd.weight.lora_a')!;
      expect(a.dims).toEqual([2, 3]); // torch shape [vocab, r] = Aᵀ
      expect([...new Float32Array(f.read(a).slice().buffer)]).toEqual([1, 4, 2, 5, 3, 6]);
    });
    const back = readGgufLora(out, BASE);
    expect([...new Float32Array(back.tensors.get('base_model.model.model.embed_tokens.lora_embedding_A')!.read().slice().buffer)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.layout.modules[0]).toMatchObject({ kind: 'embedding', r: 2, scale: 2 });
    back.tensors.close();
  });
});
