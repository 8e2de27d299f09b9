import { openModel, writeModel } from '../../../src/formats/open.js';
import { dequantize } from '../../../src/tensor/codecs/index.js';
import { elementCount } from '../../../src/tensor/dtype.js';
import { MemoryTensorStore } from '../../../src/tensor/store.js';
import { fixture } from '../../helpers.js';

/** Inputs for the mergekit-configuration tests, derived from tiny-coder-llama (6 layers, vocabulary 4096, hidden 256). */
export const CODER = fixture('models/tiny-coder-llama');
export const LAYER_SUFFIXES = [
  'input_layernorm.weight', 'mlp.down_proj.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'post_attention_layernorm.weight',
  'self_attn.k_proj.weight', 'self_attn.o_proj.weight', 'self_attn.q_proj.weight', 'self_attn.v_proj.weight',
];

/** Every tensor of a model as raw bytes. */
export function tensorBytes(path: string): Map<string, Buffer> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => [n, Buffer.from(m.tensors.get(n)?.read() ?? [])]));
  } finally {
    m.tensors.close();
  }
}

/** Every tensor of a model as float32 (dequantized). */
export function tensorFloats(path: string): Map<string, Float32Array> {
  const m = openModel(path);
  try {
    const out = new Map<string, Float32Array>();
    for (const n of m.tensors.names()) {
      const t = m.tensors.get(n);
      if (t) out.set(n, dequantize(t.dtype, t.read(), elementCount(t.shape)));
    }
    return out;
  } finally {
    m.tensors.close();
  }
}

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Bit-for-bit equality of two float32 arrays (fast on a million entries, unlike a deep toEqual). */
export function sameBits(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));
}

export interface DerivedModel {
  /** Every tensor of tiny-coder-llama is multiplied by this (in float32: exact for a power of two). */
  factor: number;
  /** Tokens appended to the BPE vocabulary (ids 4096, 4097, ...). */
  vocab?: string[];
  /** Added tokens appended after them. */
  added?: { content: string; special: boolean }[];
  /** Value of the new embedding / LM-head rows: row id, column. */
  row?: (id: number, col: number) => number;
}

function withRows(base: Float32Array, cols: number, factor: number, extra: number, row: (id: number, col: number) => number): Float32Array {
  const rows = base.length / cols;
  const out = new Float32Array((rows + extra) * cols);
  for (let i = 0; i < base.length; i++) out[i] = factor * (base[i] as number);
  for (let r = rows; r < rows + extra; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = row(r, c);
  return out;
}

function tokenizerWith(json: string, d: DerivedModel): string {
  const doc = JSON.parse(json) as { model: { vocab: Record<string, number> }; added_tokens: Record<string, unknown>[] };
  let id = Object.keys(doc.model.vocab).length;
  for (const t of d.vocab ?? []) doc.model.vocab[t] = id++;
  for (const a of d.added ?? []) doc.added_tokens.push({ id: id++, content: a.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: a.special });
  return JSON.stringify(doc);
}

/** tiny-coder-llama × factor, with extra tokens and their embedding and LM-head rows, written as APR. */
export function writeDerived(out: string, d: DerivedModel): void {
  const src = openModel(CODER);
  const extra = (d.vocab?.length ?? 0) + (d.added?.length ?? 0);
  const store = new MemoryTensorStore();
  for (const n of src.tensors.names()) {
    const t = src.tensors.get(n);
    if (!t) continue;
    const x = dequantize(t.dtype, t.read(), elementCount(t.shape));
    const embed = n === 'model.embed_tokens.weight' || n === 'lm_head.weight';
    const cols = t.shape[1] ?? 1;
    const y = embed ? withRows(x, cols, d.factor, extra, d.row ?? (() => 0)) : x.map((v) => d.factor * v);
    store.add(n, 'F32', embed ? [(t.shape[0] ?? 0) + extra, cols] : t.shape, bytesOf(y));
  }
  const tokenizer = src.tokenizer ? { ...src.tokenizer, json: tokenizerWith(src.tokenizer.json, d) } : undefined;
  const config = { ...src.config, vocab_size: src.config.vocab_size + extra };
  writeModel({ ...src, config, tensors: store, ...(tokenizer ? { tokenizer } : {}), source: { path: out, format: 'memory' } }, out, 'apr');
  src.tensors.close();
}
