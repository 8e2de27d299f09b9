import type { ArchConfig, ModelBundle, TokenizerSpec } from '../../tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { tokenizerFromGgufVocab } from '../../tokenizer/gguf-vocab.js';
import { TokenizerError } from '../../tokenizer/tokenizer-json.js';
import { FormatError } from '../errors.js';
import { KvReader, archConfigFromGguf } from './arch-config.js';
import { ggufTypeString, ggufValueToJson } from './json-values.js';
import { vocabFromKv } from './vocab.js';
import { hfNameFromGguf, permuteRopeRows, ropePermutationHeads } from './names.js';
import { archTraits, isNormGain } from '../../tensor/arch.js';
import { elementCount } from '../../tensor/dtype.js';
import { ggufArchName } from './arch-extra.js';
import { shiftNormBytes } from './norm-shift.js';
import { type GgufFile, readGguf } from './read.js';
import type { GgufTensorInfo } from './types.js';

function tensorRef(file: GgufFile, info: GgufTensorInfo, config: ArchConfig): TensorRef {
  const traits = archTraits(config);
  const name = hfNameFromGguf(info.name, ggufArchName(config.architecture)) ?? info.name;
  const shape = [...info.dims].reverse();
  if (traits.normPlusOne && isNormGain(name)) {
    return { name, dtype: 'F32', shape, byteLength: 4 * elementCount(shape), read: () => shiftNormBytes(info.ggmlType, shape, file.read(info), -1) };
  }
  const heads = traits.ggufRopePermuted ? ropePermutationHeads(name, config.num_heads, config.num_kv_heads) : undefined;
  const rows = shape[0] ?? 1;
  if (heads !== undefined && rows % (2 * heads) !== 0) throw new FormatError(file.path, `tensor '${info.name}'.dims`, `${rows} rows do not split into ${heads} RoPE heads`);
  return {
    name,
    dtype: info.ggmlType,
    shape,
    byteLength: info.byteLength,
    read: () => {
      const bytes = file.read(info);
      // Stryker disable next-line StringLiteral: permuteRopeRows tests direction === 'hf-to-gguf', so any other string means gguf-to-hf.
      return heads === undefined ? bytes : permuteRopeRows(bytes, rows, heads, 'gguf-to-hf');
    },
  };
}

function tensorStore(file: GgufFile, config: ArchConfig): TensorStore {
  const byName = new Map<string, TensorRef>();
  for (const info of file.tensors) {
    const ref = tensorRef(file, info, config);
    if (byName.has(ref.name)) throw new FormatError(file.path, `tensor '${info.name}'`, `maps to '${ref.name}', already present`);
    byName.set(ref.name, ref);
  }
  const names = [...byName.keys()];
  return { names: () => names, get: (n) => byName.get(n), close: () => file.close() };
}

function tokenizerSpec(r: KvReader): { spec?: TokenizerSpec; vocabLength?: number } {
  const vocab = vocabFromKv(r);
  if (!vocab) return {};
  let spec: TokenizerSpec;
  try {
    spec = tokenizerFromGgufVocab(vocab);
  } catch (err) {
    if (!(err instanceof TokenizerError)) throw err;
    throw new FormatError(r.file, err.field, err.message.slice(err.source.length + err.field.length + 4));
  }
  if (spec.chatTemplate === undefined && vocab.chat_template !== undefined) spec.chatTemplate = vocab.chat_template;
  return { spec, vocabLength: vocab.tokens.length };
}

/**
 * A GGUF file (llama, qwen2, qwen3, phi3, gemma2, gemma3, as llama.cpp writes them) as a lazy bundle: HF
 * tensor names, canonical `[out, in]` shapes, llama's Q/K RoPE row permutation undone, Gemma's stored
 * 1 + w norm gains back to w, `<arch>.*` keys in `config`, the
 * vocabulary in `tokenizer`, every other KV pair under `metadata.gguf` (types in `metadata.gguf_types`).
 */
export function readGgufBundle(path: string): ModelBundle {
  const file = readGguf(path);
  try {
    const type = file.kv.get('general.type');
    if (type?.type === 'string' && type.value === 'adapter') throw new FormatError(path, 'general.type', 'a LoRA adapter, not a model (apply it with apr run <base> --lora, or merge it with apr finetune <base> --adapter <it> --merge)');
    const r = new KvReader(path, file.kv);
    const { spec, vocabLength } = tokenizerSpec(r);
    const config = archConfigFromGguf(r, file.tensors, vocabLength);
    const gguf: Record<string, unknown> = {};
    const types: Record<string, string> = {};
    for (const [k, v] of file.kv) {
      if (r.used.has(k)) continue;
      gguf[k] = ggufValueToJson(v);
      types[k] = ggufTypeString(v);
    }
    const tensors = tensorStore(file, config);
    const metadata = { gguf, gguf_types: types, gguf_version: file.version };
    return { config, tensors, metadata, provenance: [], source: { path, format: 'gguf' }, ...(spec ? { tokenizer: spec } : {}) };
  } catch (err) {
    file.close();
    throw err;
  }
}
