import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { openSafetensors, openSafetensorsBuffer } from '../../src/formats/safetensors/read.js';
import { serializeSafetensors, writeSafetensors } from '../../src/formats/safetensors/write.js';
import type { DType } from '../../src/tensor/dtype.js';
import type { TensorRef } from '../../src/tensor/store.js';

const FIX = resolve(process.cwd(), '../shared/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'apr-st-write-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ref = (name: string, dtype: DType, shape: number[], bytes: number[] | Uint8Array): TensorRef => {
  const data = Uint8Array.from(bytes);
  return { name, dtype, shape, byteLength: data.byteLength, read: () => data };
};
const refs = (f: { names(): readonly string[]; get(n: string): TensorRef | undefined }) => f.names().map((n) => f.get(n)!);

describe('writer output equals the reference writer byte for byte', () => {
  it('mixed dtypes, unicode and escaped names: the bytes safetensors 0.8.0 `serialize` wrote', () => {
    // Produced by the Python package safetensors 0.8.0 (`safetensors.serialize` with TensorSpec inputs,
    // metadata {"format": "pt"}) for exactly these tensors; order: F32 > I32 > BF16 > F16 > I16 > I8, then
    // UTF-8 byte order of the names (so U+FFFF sorts before U+1F600, unlike UTF-16 order).
    const expected =
      '80020000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c22632e663332223a7b226474797065223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b302c345d7d2c22715c225c5c5c6e5c75303030312f223a7b226474797065223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b342c385d7d2c22c3a92e663332223a7b226474797065223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b382c31325d7d2c22efbfbf2e663332223a7b226474797065223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b31322c31365d7d2c22f09f98802e663332223a7b226474797065223a22463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b31362c32305d7d2c227a2e693332223a7b226474797065223a22493332222c227368617065223a5b5d2c22646174615f6f666673657473223a5b32302c32345d7d2c22612e62663136223a7b226474797065223a2242463136222c227368617065223a5b312c315d2c22646174615f6f666673657473223a5b32342c32365d7d2c22622e663136223a7b226474797065223a22463136222c227368617065223a5b325d2c22646174615f6f666673657473223a5b32362c33305d7d2c226d2e693136223a7b226474797065223a22493136222c227368617065223a5b302c345d2c22646174615f6f666673657473223a5b33302c33305d7d2c22612e6938223a7b226474797065223a224938222c227368617065223a5b335d2c22646174615f6f666673657473223a5b33302c33335d7d7d20202020200000803f0000a04000000040000040400000804009000000803f01020304050607';
    const tensors = [
      ref('b.f16', 'F16', [2], [1, 2, 3, 4]),
      ref('a.i8', 'I8', [3], [5, 6, 7]),
      ref('c.f32', 'F32', [1], [0, 0, 0x80, 0x3f]),
      ref('a.bf16', 'BF16', [1, 1], [0x80, 0x3f]),
      ref('z.i32', 'I32', [], [9, 0, 0, 0]),
      ref('m.i16', 'I16', [0, 4], []),
      ref('\u00e9.f32', 'F32', [1], [0, 0, 0, 0x40]),
      ref('\uffff.f32', 'F32', [1], [0, 0, 0x40, 0x40]),
      ref('\u{1F600}.f32', 'F32', [1], [0, 0, 0x80, 0x40]),
      ref('q"\\\n\u0001/', 'F32', [1], [0, 0, 0xa0, 0x40]),
    ];
    expect(hex(serializeSafetensors(tensors, { format: 'pt' }))).toBe(expected);
    expect(hex(serializeSafetensors([...tensors].reverse(), { format: 'pt' }))).toBe(expected);
  });

  it('the safetensors crate test vectors (test_empty, test_serialization_forced_alignement)', () => {
    expect([...serializeSafetensors([])]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...serializeSafetensors([], { framework: 'pt' })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34,
      112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
    const aligned = serializeSafetensors([ref('attn0', 'F32', [1, 1, 2, 3], Array.from({ length: 24 }, (_, i) => i))]);
    expect(hex(aligned)).toBe(
      '48000000000000007b226174746e30223a7b226474797065223a22463332222c227368617065223a5b312c312c322c335d2c22646174615f6f666673657473223a5b302c32345d7d7d20202020202020000102030405060708090a0b0c0d0e0f1011121314151617',
    );
  });

  it('rewrites the fixture tiny-draft-llama model.safetensors (transformers save_pretrained) identically', () => {
    const src = join(FIX, 'models/tiny-draft-llama/model.safetensors');
    const f = openSafetensors(src);
    const out = join(tmp, 'draft.safetensors');
    const size = writeSafetensors(out, [...refs(f)].reverse(), f.metadata);
    const a = readFileSync(out);
    expect(size).toBe(a.byteLength);
    expect(Buffer.compare(a, readFileSync(src))).toBe(0);
    // And every tensor reads back bit for bit.
    const g = openSafetensors(out);
    expect(g.names()).toEqual(f.names());
    for (const n of f.names()) expect(Buffer.compare(Buffer.from(g.get(n)!.read()), Buffer.from(f.get(n)!.read()))).toBe(0);
    f.close();
    g.close();
  });

  it('rewrites each shard of tiny-coder-llama and the PEFT adapter file identically', () => {
    const files = ['models/tiny-coder-llama/model-00001-of-00003.safetensors', 'models/tiny-coder-llama/model-00002-of-00003.safetensors', 'models/tiny-coder-llama/model-00003-of-00003.safetensors', 'adapters/tiny-coder-llama-lora-email/adapter_model.safetensors'];
    for (const file of files) {
      const f = openSafetensors(join(FIX, file));
      expect(Buffer.compare(Buffer.from(serializeSafetensors(refs(f), f.metadata)), readFileSync(join(FIX, file)))).toBe(0);
      f.close();
    }
  });

  it('orders several metadata keys deterministically (the reference uses a HashMap: any order)', () => {
    const a = openSafetensorsBuffer('m', serializeSafetensors([], { z: '1', a: '2', k2: '3' }));
    expect(Object.keys(a.metadata)).toEqual(['a', 'k2', 'z']);
  });
});

describe('writer refuses what safetensors cannot hold, and never leaves a partial file', () => {
  const q = ref('blk.q', 'Q4_K', [1, 256], new Uint8Array(144));
  it.each([
    ['a quantized tensor', [q], 'blk.q.dtype', /Q4_K cannot be stored in safetensors \(export as gguf to keep it quantized, or dequantize it first\)/],
    ['a duplicate name', [ref('w', 'I8', [1], [1]), ref('w', 'I8', [1], [2])], 'w', /duplicate tensor name/],
    ['bytes that do not match the shape', [ref('w', 'F32', [2], [1, 2, 3, 4])], 'w.shape', /F32\[2\] needs 8 bytes but the tensor has 4/],
    ['the reserved name __metadata__', [ref('__metadata__', 'I8', [1], [1])], '__metadata__', /reserved/],
  ])('%s → FormatError naming %s, nothing written', (_what, tensors, field, message) => {
    const out = join(tmp, `bad-${field}.safetensors`);
    let err: unknown;
    try {
      writeSafetensors(out, tensors);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).field).toBe(field);
    expect((err as FormatError).message).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('a tensor whose read() fails midway leaves neither the output nor a temporary file', () => {
    const dir = mkdtempSync(join(tmp, 'partial-'));
    const bad: TensorRef = { name: 'b', dtype: 'F32', shape: [1], byteLength: 4, read: () => new Uint8Array(3) };
    expect(() => writeSafetensors(join(dir, 'x.safetensors'), [ref('a', 'F32', [1], [0, 0, 0, 0]), bad])).toThrow(/b: read 3 bytes, expected 4/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
