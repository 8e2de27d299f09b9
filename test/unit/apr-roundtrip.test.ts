import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { type AprBundle, type ByteSource, fileSource, inspectApr, readApr, readAprFrom, writeApr } from '../../src/formats/apr/index.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import type { ModelBundle, ProvenanceEntry } from '../../src/tensor/bundle.js';
import { DTYPES, byteSize } from '../../src/tensor/dtype.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { SMALL_TOKENIZER_JSON, SYNTH_TENSORS, rawLayout, seededBytes, synthBundle, u32, u64 } from './apr-helpers.js';

const FIXTURE = path.resolve(process.cwd(), '../shared/fixtures/models/tiny-coder-llama');
const dir = mkdtempSync(path.join(tmpdir(), 'apr-rt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const align64 = (n: number): number => Math.ceil(n / 64) * 64;

describe('APR v2 round trip of the tiny-coder-llama fixture (HF folder → APR → bundle)', () => {
  const src = readHfDir(FIXTURE);
  const out = path.join(dir, 'tiny.apr');
  const written = writeApr(src, out);
  const apr = readApr(out);
  const weightMap = JSON.parse(readFileSync(path.join(FIXTURE, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>;

  it('holds every tensor of the fixture bit for bit, with the same dtype and shape', () => {
    expect([...apr.tensors.names()].sort()).toEqual(Object.keys(weightMap).sort());
    expect(apr.tensors.names()).toHaveLength(57);
    for (const name of src.tensors.names()) {
      const a = src.tensors.get(name)!;
      const b = apr.tensors.get(name)!;
      expect(b.dtype, name).toBe(a.dtype);
      expect(b.shape, name).toEqual(a.shape);
      expect(Buffer.from(b.read()).equals(Buffer.from(a.read())), name).toBe(true);
    }
  });

  it('keeps the config and the tokenizer files exactly', () => {
    expect(apr.config).toEqual(src.config);
    expect(apr.config.num_kv_heads).toBe(4);
    expect(apr.tokenizer?.json).toBe(readFileSync(path.join(FIXTURE, 'tokenizer.json'), 'utf8'));
    expect(apr.tokenizer?.chatTemplate).toBe(readFileSync(path.join(FIXTURE, 'chat_template.jinja'), 'utf8'));
    expect(apr.tokenizer?.config).toEqual(JSON.parse(readFileSync(path.join(FIXTURE, 'tokenizer_config.json'), 'utf8')));
    expect(apr.tokenizer?.generationConfig).toEqual(JSON.parse(readFileSync(path.join(FIXTURE, 'generation_config.json'), 'utf8')));
    expect(apr.metadata).toEqual({});
    expect(apr.source).toEqual({ path: out, format: 'apr' });
  });

  it('records SHA-256 digests of the stored bytes that match node:crypto over the source tensors', () => {
    expect(Object.keys(apr.integrity ?? {}).sort()).toEqual(Object.keys(weightMap).sort());
    for (const name of src.tensors.names()) expect(apr.integrity?.[name], name).toBe(sha(src.tensors.get(name)!.read()));
    expect(written.integrity).toEqual(apr.integrity);
    for (const name of apr.tensors.names()) expect(() => apr.verifyTensor(name)).not.toThrow();
    const checked = readApr(out, { verifyDigests: true });
    for (const name of checked.tensors.names()) expect(checked.tensors.get(name)!.read().byteLength).toBe(checked.tensors.get(name)!.byteLength);
    checked.tensors.close();
  });

  it('lays the bytes out as aprender does (header fields, CRCs, padding, sorted aligned index)', () => {
    const b = new Uint8Array(readFileSync(out));
    expect(Array.from(b.subarray(0, 4))).toEqual([0x41, 0x50, 0x52, 0x00]);
    expect([b[4], b[5]]).toEqual([2, 0]);
    const flags = b[6]! | (b[7]! << 8);
    expect(flags).toBe((1 << 9) | (1 << 10)); // HAS_VOCAB | LAYOUT_ROW_MAJOR; f32 → not QUANTIZED
    const raw = rawLayout(b);
    expect(raw.tensorCount).toBe(57);
    expect(u64(b, 12)).toBe(64);
    const meta = b.subarray(64, 64 + raw.metadataSize);
    expect(() => JSON.parse(Buffer.from(meta).toString('utf8')) as unknown).not.toThrow();
    expect(raw.indexOffset).toBe(64 + align64(raw.metadataSize));
    expect(b.subarray(64 + raw.metadataSize, raw.indexOffset).every((x) => x === 0)).toBe(true);
    expect(u32(b, 40)).toBe(zlib.crc32(b.subarray(44, 64), zlib.crc32(b.subarray(0, 40))) >>> 0);
    expect(b.subarray(44, 64).every((x) => x === 0)).toBe(true);
    expect(u32(b, b.byteLength - 4)).toBe(zlib.crc32(b.subarray(0, b.byteLength - 4)) >>> 0);
    const last = raw.entries[raw.entries.length - 1]!;
    const indexEnd = last.at.size + 8;
    expect(raw.dataOffset).toBe(raw.indexOffset + align64(indexEnd - raw.indexOffset));
    const names = raw.entries.map((e) => Buffer.from(e.name, 'utf8'));
    for (let i = 1; i < names.length; i++) expect(Buffer.compare(names[i - 1]!, names[i]!)).toBe(-1);
    let expectOffset = 0;
    for (const e of raw.entries) {
      expect(e.offset).toBe(expectOffset);
      expect(e.dtypeId).toBe(DTYPES.F32.id);
      expect(e.size).toBe(4 * e.dims.reduce((x, y) => x * y, 1));
      expectOffset += align64(e.size);
    }
    expect(b.byteLength).toBe(raw.dataOffset + expectOffset + 4);
    expect(written.bytes).toBe(b.byteLength);
  });

  it('writes aprender\'s top-level architecture fields and flat tokenizer keys', () => {
    const { metadata } = inspectApr(out);
    const tok = JSON.parse(readFileSync(path.join(FIXTURE, 'tokenizer.json'), 'utf8'));
    expect(metadata).toMatchObject({ model_type: 'llama', architecture: 'llama', hidden_size: 256, num_layers: 6, num_heads: 8, num_kv_heads: 4, vocab_size: 4096, intermediate_size: 512 });
    // From the architecture alone: untied embed + lm_head, per layer q,o (256²), k,v (128·256), 3 MLP (512·256), 2 norms; final norm.
    const perLayer = 2 * 256 * 256 + 2 * 128 * 256 + 3 * 512 * 256 + 2 * 256;
    expect(metadata['param_count']).toBe(2 * 4096 * 256 + 6 * perLayer + 256);
    const vocab = metadata['tokenizer.vocabulary'] as string[];
    expect(vocab).toHaveLength(4096);
    expect(vocab.slice(0, 3)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
    expect((metadata['tokenizer.merges'] as string[]).length).toBe(tok.model.merges.length);
    expect(metadata['tokenizer.eos_token_id']).toBe(0);
  });

  it('opens lazily: with verifyFooter off only header, metadata and index are read; a tensor reads only its bytes', () => {
    const reads: [number, number][] = [];
    const inner = fileSource(out);
    const counting: ByteSource = {
      name: inner.name,
      size: inner.size,
      read: (o, n) => (reads.push([o, n]), inner.read(o, n)),
      readInto: (t, o) => (reads.push([o, t.byteLength]), inner.readInto(t, o)),
      close: () => inner.close(),
    };
    const lazy = readAprFrom(counting, { verifyFooter: false });
    const opened = reads.reduce((n, [, len]) => n + len, 0);
    expect(opened).toBeLessThan(lazy.header.dataOffset + 1);
    reads.length = 0;
    const e = lazy.entries.find((x) => x.name === 'model.norm.weight')!;
    lazy.tensors.get('model.norm.weight')!.read();
    expect(reads).toEqual([[lazy.header.dataOffset + e.offset, e.size]]);
    lazy.tensors.close();
  });

  it('checks the footer by default in bounded chunks, never the whole file in one read', () => {
    const reads: number[] = [];
    const inner = fileSource(out);
    const counting: ByteSource = {
      name: inner.name,
      size: inner.size,
      read: (o, n) => (reads.push(n), inner.read(o, n)),
      readInto: (t, o) => (reads.push(t.byteLength), inner.readInto(t, o)),
      close: () => inner.close(),
    };
    readAprFrom(counting).tensors.close();
    expect(reads.reduce((a, x) => a + x, 0)).toBeGreaterThan(inner.size); // whole file covered once, plus header/index
    expect(Math.max(...reads)).toBeLessThanOrEqual(4 << 20);
  });
});

describe('APR v2 writer and reader on a synthetic bundle', () => {
  const prov: ProvenanceEntry = { op: 'import', options: { from: 'memory' }, inputDigests: ['sha256:' + 'ab'.repeat(32)], toolVersion: '0.1.0', time: '2025-01-01T00:00:00Z' };

  it('round-trips block dtypes, a scalar, a zero-size tensor and unicode names, sorted by UTF-8 bytes', () => {
    const p = path.join(dir, 'synth.apr');
    writeApr(synthBundle(), p, { provenance: prov });
    const apr = readApr(p);
    const expectedOrder = SYNTH_TENSORS.map(([n]) => n).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(apr.tensors.names()).toEqual(expectedOrder);
    expect(expectedOrder.indexOf('\uff5a.fullwidth')).toBeLessThan(expectedOrder.indexOf('\u{1f600}.emoji')); // UTF-16 order would swap them
    SYNTH_TENSORS.forEach(([name, dtype, shape], i) => {
      const t = apr.tensors.get(name)!;
      expect([t.dtype, t.shape]).toEqual([dtype, shape]);
      expect(Array.from(t.read())).toEqual(Array.from(seededBytes(byteSize(dtype, shape), i + 1)));
    });
    expect(apr.header.flagNames).toEqual(['QUANTIZED', 'HAS_VOCAB', 'LAYOUT_ROW_MAJOR']);
    expect(apr.config).toEqual(synthBundle().config);
    expect(apr.metadata).toEqual(synthBundle().metadata);
    expect(apr.tokenizer).toEqual(synthBundle().tokenizer);
    expect(apr.provenance).toEqual([prov]);
    for (const e of apr.entries) expect((apr.header.dataOffset + e.offset) % 64).toBe(0);
  });

  it('appends provenance across rewrites and carries metadata types through JSON', () => {
    const p1 = path.join(dir, 'p1.apr');
    const p2 = path.join(dir, 'p2.apr');
    writeApr(synthBundle({ tokenizer: false, metadata: { big: 2n ** 40n, f32: Float32Array.of(0.5, -2) } }), p1, { provenance: prov });
    const second = { ...prov, op: 'quantize' };
    writeApr(readApr(p1), p2, { provenance: second });
    const apr = readApr(p2);
    expect(apr.provenance).toEqual([prov, second]);
    expect(apr.metadata).toEqual({ big: 2 ** 40, f32: [0.5, -2] });
    expect(apr.tokenizer).toBeUndefined();
    expect(apr.header.flagNames).toEqual(['QUANTIZED', 'LAYOUT_ROW_MAJOR']);
    expect(readFileSync(p2).equals(readFileSync(p1))).toBe(false);
  });

  it('writes and reads a bundle with no tensors', () => {
    const p = path.join(dir, 'empty.apr');
    writeApr({ ...synthBundle(), tensors: new MemoryTensorStore() }, p);
    const apr = readApr(p);
    expect(apr.tensors.names()).toEqual([]);
    expect(apr.header.tensorCount).toBe(0);
    expect(apr.header.dataOffset).toBe(apr.header.tensorIndexOffset);
    expect(apr.integrity).toEqual({});
  });

  it('is deterministic: the same bundle gives byte-identical files', () => {
    const a = path.join(dir, 'det-a.apr');
    const b = path.join(dir, 'det-b.apr');
    writeApr(synthBundle(), a);
    writeApr(synthBundle(), b);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('streams: each tensor is read once, after every earlier tensor is already on disk', () => {
    const sub = mkdtempSync(path.join(dir, 'stream-'));
    const base = synthBundle();
    const store = new MemoryTensorStore();
    const calls: string[] = [];
    let previousEnd = 0;
    for (const name of base.tensors.names()) {
      const ref = base.tensors.get(name)!;
      store.addRef({
        ...ref,
        read: () => {
          calls.push(name);
          const tmp = readdirSync(sub).find((f) => f.startsWith('.apr-tmp-'))!;
          const size = statSync(path.join(sub, tmp)).size;
          expect(size).toBeGreaterThanOrEqual(previousEnd);
          const bytes = ref.read();
          previousEnd = size + align64(bytes.byteLength);
          return bytes;
        },
      });
    }
    writeApr({ ...base, tensors: store }, path.join(sub, 'out.apr'));
    expect([...calls].sort()).toEqual([...base.tensors.names()].sort());
    expect(new Set(calls).size).toBe(calls.length);
  });

  it('is atomic: a tensor that fails mid-way leaves no output and no temporary file, and an old file intact', () => {
    const sub = mkdtempSync(path.join(dir, 'atomic-'));
    const base = synthBundle();
    const store = new MemoryTensorStore();
    base.tensors.names().forEach((name, i) => {
      const ref = base.tensors.get(name)!;
      const read = (): Uint8Array => {
        if (i === 3) throw new Error('disk on fire');
        return ref.read();
      };
      store.addRef({ ...ref, read });
    });
    const target = path.join(sub, 'out.apr');
    expect(() => writeApr({ ...base, tensors: store }, target)).toThrow('disk on fire');
    expect(readdirSync(sub)).toEqual([]);
    writeFileSync(target, 'previous contents');
    expect(() => writeApr({ ...base, tensors: store }, target)).toThrow('disk on fire');
    expect(readdirSync(sub)).toEqual(['out.apr']);
    expect(readFileSync(target, 'utf8')).toBe('previous contents');
  });

  it('refuses tensors it cannot represent faithfully, before creating a file', () => {
    const sub = mkdtempSync(path.join(dir, 'refuse-'));
    const bad = (name: string, shape: number[], bytes: Uint8Array): ModelBundle => {
      const store = new MemoryTensorStore();
      store.add(name, 'F32', shape, bytes);
      return { ...synthBundle(), tensors: store };
    };
    expect(() => writeApr(bad('x', [3], new Uint8Array(8)), path.join(sub, 'a.apr'))).toThrow(/needs 12/);
    expect(() => writeApr(bad('n'.repeat(257), [1], new Uint8Array(4)), path.join(sub, 'a.apr'))).toThrow(/1\.\.256/);
    expect(() => writeApr(bad('x', Array(9).fill(1) as number[], new Uint8Array(4)), path.join(sub, 'a.apr'))).toThrow(/9 dims/);
    expect(() => writeApr({ ...synthBundle(), metadata: { version: 3 } }, path.join(sub, 'a.apr'))).toThrow(/'version' must be a string/);
    expect(() => writeApr({ ...synthBundle(), config: { ...synthBundle().config, num_heads: 0 } }, path.join(sub, 'a.apr'))).toThrow(/invalid config: num_heads/);
    expect(readdirSync(sub)).toEqual([]);
    expect(existsSync(path.join(sub, 'a.apr'))).toBe(false);
  });

  it('reads files with aprender-only metadata: defaults derived, flat tokenizer keys kept when no tokenizer.json', () => {
    const p = path.join(dir, 'aprenderish.apr');
    const store = new MemoryTensorStore();
    store.add('lm_head.weight', 'F32', [4, 2], new Uint8Array(32));
    store.add('model.layers.0.self_attn.q_proj.bias', 'F32', [2], new Uint8Array(8));
    const cfg = synthBundle().config;
    writeApr({ ...synthBundle({ tokenizer: false, metadata: { 'tokenizer.vocabulary': ['a', 'b'], tied_embeddings: false } }), tensors: store, config: cfg }, p);
    // Drop the fields aprender may omit by renaming their keys in place (same length), then fix the CRC.
    const b = new Uint8Array(readFileSync(p));
    let text = Buffer.from(b.subarray(64, 64 + u32(b, 20))).toString('latin1');
    for (const k of ['num_kv_heads', 'head_dim', 'tie_word_embeddings', 'attention_bias']) text = text.replace(`"${k}"`, `"${'_'.repeat(k.length)}"`);
    b.set(Buffer.from(text, 'latin1'), 64);
    b.set(new Uint8Array(new Uint32Array([zlib.crc32(b.subarray(0, b.byteLength - 4)) >>> 0]).buffer), b.byteLength - 4);
    writeFileSync(p, b);
    const apr: AprBundle = readApr(p);
    expect(apr.config).toMatchObject({ num_kv_heads: 4, head_dim: 16, tie_word_embeddings: false, attention_bias: true });
    expect(apr.metadata['tokenizer.vocabulary']).toEqual(['a', 'b']);
    expect(JSON.parse(SMALL_TOKENIZER_JSON).model.type).toBe('BPE');
  });
});
