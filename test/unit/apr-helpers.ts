/** Shared by the APR tests: a small synthetic bundle and byte-patching helpers (independent of the reader). */
import * as zlib from 'node:zlib';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { type DType, byteSize } from '../../src/tensor/dtype.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

export function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

export const SMALL_TOKENIZER_JSON = JSON.stringify({
  version: '1.0',
  added_tokens: [{ id: 3, content: '<eos>', special: true }],
  model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']] },
});

/** Tensors chosen to cover block dtypes, a scalar, zero-size, and names whose UTF-8 and UTF-16 orders differ. */
export const SYNTH_TENSORS: [string, DType, number[]][] = [
  ['blk.0.x', 'F32', [2, 3]],
  ['blk.1.x', 'Q8_0', [2, 32]],
  ['c.f16', 'F16', [5]],
  ['d.q4k', 'Q4_K', [1, 256]],
  ['e.scalar', 'BF16', []],
  ['f.empty', 'F32', [0, 4]],
  ['\uff5a.fullwidth', 'F32', [3]],
  ['\u{1f600}.emoji', 'F32', [2]],
];

export function synthBundle(opts: { tokenizer?: boolean; metadata?: Record<string, unknown> } = {}): ModelBundle {
  const store = new MemoryTensorStore();
  SYNTH_TENSORS.forEach(([name, dtype, shape], i) => store.add(name, dtype, shape, seededBytes(byteSize(dtype, shape), i + 1)));
  const bundle: ModelBundle = {
    config: {
      architecture: 'qwen2',
      hidden_size: 64,
      num_layers: 2,
      num_heads: 4,
      num_kv_heads: 2,
      head_dim: 16,
      vocab_size: 4,
      intermediate_size: 128,
      rope_theta: 1000000,
      rms_norm_eps: 1e-6,
      max_position_embeddings: 512,
      tie_word_embeddings: true,
      attention_bias: true,
      eos_token_id: [3, 2],
    },
    tensors: store,
    metadata: opts.metadata ?? { 'general.name': 'synthetic', nested: { list: [1, 2.5, 'x'], flag: true } },
    provenance: [],
    source: { path: '<memory>', format: 'memory' },
  };
  if (opts.tokenizer ?? true) {
    bundle.tokenizer = {
      json: SMALL_TOKENIZER_JSON,
      config: { eos_token: '<eos>', model_max_length: 512 },
      chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}',
      generationConfig: { eos_token_id: 3 },
    };
  }
  return bundle;
}

export const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
export const u64 = (b: Uint8Array, at: number): number => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));
export const setU32 = (b: Uint8Array, at: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0, true);
export const setU64 = (b: Uint8Array, at: number, v: number | bigint): void => new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt(v), true);

/** Recomputes the header CRC (zlib, over [0,40) ++ [44,64)) after a patch. */
export function fixHeaderCrc(b: Uint8Array): void {
  setU32(b, 40, zlib.crc32(b.subarray(44, 64), zlib.crc32(b.subarray(0, 40))));
}

/** Recomputes the footer CRC (zlib, over all bytes but the last 4). */
export function fixFooterCrc(b: Uint8Array): void {
  setU32(b, b.byteLength - 4, zlib.crc32(b.subarray(0, b.byteLength - 4)));
}

export interface RawEntry {
  /** Byte positions of each field in the file. */
  at: { nameLen: number; name: number; dtype: number; ndim: number; dims: number; offset: number; size: number };
  name: string;
  dtypeId: number;
  dims: number[];
  offset: number;
  size: number;
}

/** A test-side parser of the header and index, written from the layout spec, to locate fields to patch. */
export function rawLayout(b: Uint8Array): { tensorCount: number; metadataSize: number; indexOffset: number; dataOffset: number; entries: RawEntry[] } {
  const tensorCount = u32(b, 8);
  const indexOffset = u64(b, 24);
  const entries: RawEntry[] = [];
  let p = indexOffset;
  for (let i = 0; i < tensorCount; i++) {
    const nameLen = b[p]! | (b[p + 1]! << 8);
    const at = { nameLen: p, name: p + 2, dtype: p + 2 + nameLen, ndim: p + 3 + nameLen, dims: p + 4 + nameLen, offset: 0, size: 0 };
    const ndim = b[at.ndim]!;
    at.offset = at.dims + 8 * ndim;
    at.size = at.offset + 8;
    const dims = Array.from({ length: ndim }, (_, d) => u64(b, at.dims + 8 * d));
    entries.push({ at, name: Buffer.from(b.subarray(at.name, at.name + nameLen)).toString('utf8'), dtypeId: b[at.dtype]!, dims, offset: u64(b, at.offset), size: u64(b, at.size) });
    p = at.size + 8;
  }
  return { tensorCount, metadataSize: u32(b, 20), indexOffset, dataOffset: u64(b, 32), entries };
}
