import { basename } from 'node:path';
import type { ModelBundle } from '../../tensor/bundle.js';
import { type DType, DTYPES, elementCount } from '../../tensor/dtype.js';
import { ggufVocabFromTokenizer } from '../../tokenizer/gguf-vocab.js';
import { FormatError } from '../errors.js';
import { archKeys, archTailKeys } from './arch-config.js';
import { ggufArchName } from './arch-extra.js';
import { shiftNormBytes } from './norm-shift.js';
import { archTraits, isNormGain } from '../../tensor/arch.js';
import type { TensorRef } from '../../tensor/store.js';
import { ggufValueFromJson } from './json-values.js';
import { ggufNameFromHf, permuteRopeRows, ropePermutationHeads } from './names.js';
import { GGUF_DEFAULT_ALIGNMENT, type GgufValue } from './types.js';
import { vocabKeys } from './vocab.js';
import { type GgufTensorInput, writeGguf } from './write.js';

export interface WriteGgufOptions {
  /** general.name (default: the source's, else derived from the source path as convert_hf_to_gguf.py does). */
  name?: string;
  /** general.alignment (default: the source's, else 32, which is then not written, as gguf-py does). */
  alignment?: number;
}

/** llama_ftype values and the dtype most tensors have under each (llama.h). */
const FTYPE_DTYPE: Record<number, DType> = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q3_K', 13: 'Q3_K', 14: 'Q4_K', 15: 'Q4_K', 16: 'Q5_K', 17: 'Q5_K', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS', 22: 'IQ3_S', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_S', 28: 'IQ2_XS', 29: 'IQ2_S', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0' };
const DEFAULT_FTYPE: Partial<Record<DType, number>> = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, Q2_K: 10, Q3_K: 12, Q4_K: 15, Q5_K: 17, Q6_K: 18, IQ2_XXS: 19, IQ2_XS: 20, IQ3_XXS: 23, IQ1_S: 24, IQ4_NL: 25, IQ3_S: 26, IQ2_S: 29, IQ4_XS: 30, IQ1_M: 31, BF16: 32, TQ1_0: 36, TQ2_0: 37 };
const COMPUTED = new Set(['general.architecture', 'general.file_type', 'general.quantization_version', 'general.alignment', 'tokenizer.chat_template']);

function ggufTensors(bundle: ModelBundle, path: string): GgufTensorInput[] {
  const c = bundle.config;
  const out: GgufTensorInput[] = [];
  for (const name of bundle.tensors.names()) {
    if (c.tie_word_embeddings && name === 'lm_head.weight') continue;
    const ref = bundle.tensors.get(name);
    if (!ref) continue;
    if (DTYPES[ref.dtype].id >= 128) throw new FormatError(path, `tensor '${name}'.dtype`, `${ref.dtype} has no GGUF encoding (convert it to a ggml type first)`);
    out.push(ggufTensor(c, ref));
  }
  return out;
}

/** One tensor in GGUF form: llama.cpp's name, reversed dims, llama's Q/K rows permuted, Gemma's norm gains as 1 + w. */
function ggufTensor(c: ModelBundle['config'], ref: TensorRef): GgufTensorInput {
  const traits = archTraits(c);
  const name = ggufNameFromHf(ref.name, ggufArchName(c.architecture)) ?? ref.name;
  const dims = [...ref.shape].reverse();
  if (traits.normPlusOne && isNormGain(ref.name)) return { name, ggmlType: 'F32', dims, read: () => shiftNormBytes(ref.dtype, ref.shape, ref.read(), 1) };
  const heads = traits.ggufRopePermuted ? ropePermutationHeads(ref.name, c.num_heads, c.num_kv_heads) : undefined;
  const rows = ref.shape[0] ?? 1;
  const read = heads === undefined ? () => ref.read() : () => permuteRopeRows(ref.read(), rows, heads, 'hf-to-gguf');
  return { name, ggmlType: ref.dtype, dims, read };
}

/** The dtype of most matrices decides general.file_type; the source's value is kept when it agrees. */
function fileType(tensors: readonly GgufTensorInput[], previous: GgufValue | undefined): GgufValue {
  const counts = new Map<DType, number>();
  for (const t of tensors) if (t.dims.length >= 2) counts.set(t.ggmlType, (counts.get(t.ggmlType) ?? 0) + 1);
  const main = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  if (previous?.type === 'u32' && FTYPE_DTYPE[previous.value] === main) return previous;
  return { type: 'u32', value: DEFAULT_FTYPE[main] ?? 0 };
}

function metadataKv(bundle: ModelBundle): Map<string, GgufValue> {
  const values = bundle.metadata['gguf'];
  const types = bundle.metadata['gguf_types'];
  const out = new Map<string, GgufValue>();
  if (typeof values !== 'object' || values === null) return out;
  const typeOf = (k: string): string | undefined => {
    const t = typeof types === 'object' && types !== null ? (types as Record<string, unknown>)[k] : undefined;
    return typeof t === 'string' ? t : undefined;
  };
  for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
    const g = ggufValueFromJson(v, typeOf(k));
    if (g) out.set(k, g);
  }
  return out;
}

function defaultName(bundle: ModelBundle): string {
  const base = basename(bundle.source.path).replace(/\.(gguf|apr|safetensors)$/i, '');
  return base.split(/[-_\s]+/).filter(Boolean).map((w) => w[0]?.toUpperCase() + w.slice(1)).join(' ');
}

/** gguf-py's size label: the parameter count with at least two significant digits ("5.6M", "820K"). */
function sizeLabel(params: number): string {
  const [scale, suffix] = params > 1e12 ? [1e-12, 'T'] : params > 1e9 ? [1e-9, 'B'] : params > 1e6 ? [1e-6, 'M'] : [1e-3, 'K'];
  const scaled = params * scale;
  const digits = String(Math.round(scaled)).replace(/^0+/, '').length;
  return `${scaled.toFixed(Math.max(2 - digits, 0))}${suffix}`;
}

function generalKeys(bundle: ModelBundle, meta: Map<string, GgufValue>, tensors: readonly GgufTensorInput[], opts: WriteGgufOptions): Map<string, GgufValue> {
  const kv = new Map<string, GgufValue>([['general.architecture', { type: 'string', value: ggufArchName(bundle.config.architecture) }]]);
  if (!meta.has('general.type')) kv.set('general.type', { type: 'string', value: 'model' });
  for (const [k, v] of meta) if (k.startsWith('general.') && !COMPUTED.has(k)) kv.set(k, v);
  if (opts.name !== undefined || !kv.has('general.name')) kv.set('general.name', { type: 'string', value: opts.name ?? defaultName(bundle) });
  if (!kv.has('general.size_label')) {
    const params = tensors.reduce((n, t) => n + elementCount(t.dims), 0);
    kv.set('general.size_label', { type: 'string', value: sizeLabel(params) });
  }
  return kv;
}

/** general.alignment: the requested one when it is not the default, else the source file's (if any). */
function alignmentKv(kv: Map<string, GgufValue>, meta: ReadonlyMap<string, GgufValue>, alignment: number | undefined): void {
  const previous = meta.get('general.alignment');
  if (alignment !== undefined && alignment !== GGUF_DEFAULT_ALIGNMENT) kv.set('general.alignment', { type: 'u32', value: alignment });
  else if (alignment === undefined && previous !== undefined) kv.set('general.alignment', previous);
}

/** The vocabulary keys, then the source's other tokenizer.* keys, then the chat template. */
function tokenizerKv(kv: Map<string, GgufValue>, tokenizer: NonNullable<ModelBundle['tokenizer']>, rest: readonly [string, GgufValue][]): void {
  const vocab = ggufVocabFromTokenizer(tokenizer);
  for (const [k, v] of vocabKeys(vocab)) kv.set(k, v);
  for (const [k, v] of rest) if (k.startsWith('tokenizer.')) kv.set(k, v);
  const template = tokenizer.chatTemplate ?? vocab.chat_template;
  if (template !== undefined) kv.set('tokenizer.chat_template', { type: 'string', value: template });
}

/** Every KV pair of the output, in convert_hf_to_gguf.py's order. */
export function bundleKv(bundle: ModelBundle, tensors: readonly GgufTensorInput[], opts: WriteGgufOptions = {}): Map<string, GgufValue> {
  const meta = metadataKv(bundle);
  const kv = generalKeys(bundle, meta, tensors, opts);
  for (const [k, v] of archKeys(bundle.config)) kv.set(k, v);
  kv.set('general.file_type', fileType(tensors, meta.get('general.file_type')));
  for (const [k, v] of archTailKeys(bundle.config, bundle.source.path)) kv.set(k, v);
  kv.set('general.quantization_version', meta.get('general.quantization_version') ?? { type: 'u32', value: 2 });
  alignmentKv(kv, meta, opts.alignment);
  const rest = [...meta].filter(([k]) => !kv.has(k) && !COMPUTED.has(k));
  for (const [k, v] of rest) if (!k.startsWith('tokenizer.')) kv.set(k, v);
  if (bundle.tokenizer) tokenizerKv(kv, bundle.tokenizer, rest);
  return kv;
}

/**
 * Writes a bundle as a llama.cpp GGUF: HF names → GGUF names, llama's Q/K RoPE row permutation redone,
 * shapes reversed to GGUF order, tensors in their own dtype, `<arch>.*`, general and vocabulary keys as
 * convert_hf_to_gguf.py writes them; streamed tensor by tensor through a temporary file.
 */
export function writeGgufBundle(bundle: ModelBundle, path: string, opts: WriteGgufOptions = {}): void {
  const tensors = ggufTensors(bundle, path);
  writeGguf(path, bundleKv(bundle, tensors, opts), tensors);
}
