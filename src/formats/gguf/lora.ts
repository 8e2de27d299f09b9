/**
 * llama.cpp LoRA adapters in GGUF (`general.type = adapter`, `adapter.type = lora`), as
 * convert_lora_to_gguf.py writes them and src/llama-adapter.cpp reads them: for each adapted base tensor
 * `<t>` a pair `<t>.lora_a` (ggml ne = [in, r], i.e. PEFT's lora_A [r, in]) and `<t>.lora_b` (ne = [r, out],
 * PEFT's lora_B [out, r]); for `token_embd.weight` lora_a is transposed (ne = [r, n_vocab]). llama's Q/K
 * RoPE row permutation is applied to lora_b's rows (A is untouched). Each update is
 * scale·(alpha/r)·B·A with alpha = `adapter.lora.alpha` and r = lora_b's ne[0] (alpha 0: scale alone).
 * Tensors named `*_norm.weight` (added by mergekit-extract-lora) are kept as replacements of the base ones.
 */
import type { ArchConfig } from '../../tensor/bundle.js';
import { DTYPES } from '../../tensor/dtype.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { FormatError } from '../errors.js';
import type { PeftAdapter } from '../peft/adapter.js';
import { parsePeftConfig } from '../peft/config.js';
import { PEFT_PREFIX, adapterLayout } from '../peft/modules.js';
import { hfNameFromGguf, permuteRopeRows, ropePermutationHeads } from './names.js';
import { type GgufFile, readGguf } from './read.js';
import type { GgufTensorInfo, GgufValue } from './types.js';

/** The base model's facts a GGUF adapter needs to be read as PEFT tensors. */
export type LoraBaseConfig = Pick<ArchConfig, 'architecture' | 'num_heads' | 'num_kv_heads'>;

export interface GgufLoraPair {
  /** The base tensor, GGUF name (`blk.0.attn_q.weight`). */
  target: string;
  /** The Hugging Face module path (`model.layers.0.self_attn.q_proj`). */
  module: string;
  kind: 'linear' | 'embedding';
  a: GgufTensorInfo;
  b: GgufTensorInfo;
  r: number;
  inFeatures: number;
  outFeatures: number;
}

export interface GgufLora {
  readonly file: GgufFile;
  readonly architecture: string;
  /** `adapter.lora.alpha` (0 when absent: llama.cpp then scales by the user scale alone). */
  readonly alpha: number;
  readonly pairs: GgufLoraPair[];
  /** `*_norm.weight` tensors that replace the base ones. */
  readonly norms: GgufTensorInfo[];
}

function stringKv(file: GgufFile, key: string): string | undefined {
  const v = file.kv.get(key);
  if (v !== undefined && v.type !== 'string') throw new FormatError(file.path, key, `expected a string, got ${v.type}`);
  return v?.value;
}

/** True when `file` is a GGUF adapter (general.type = adapter), whatever its adapter type. */
export function isGgufAdapterFile(kv: ReadonlyMap<string, GgufValue>): boolean {
  const t = kv.get('general.type');
  return t?.type === 'string' && t.value === 'adapter';
}

function checkKv(file: GgufFile): { architecture: string; alpha: number } {
  const type = stringKv(file, 'general.type');
  if (type !== 'adapter') throw new FormatError(file.path, 'general.type', `expected 'adapter', got ${JSON.stringify(type ?? null)}`);
  const adapterType = stringKv(file, 'adapter.type');
  if (adapterType !== 'lora') throw new FormatError(file.path, 'adapter.type', `expected 'lora', got ${JSON.stringify(adapterType ?? null)}`);
  if (file.kv.has('adapter.alora.invocation_tokens')) throw new FormatError(file.path, 'adapter.alora.invocation_tokens', 'activated LoRA (aLoRA) adapters are not supported');
  const architecture = stringKv(file, 'general.architecture');
  if (architecture === undefined) throw new FormatError(file.path, 'general.architecture', 'missing');
  const a = file.kv.get('adapter.lora.alpha');
  if (a !== undefined && a.type !== 'f32') throw new FormatError(file.path, 'adapter.lora.alpha', `expected f32, got ${a.type}`);
  const alpha = a?.type === 'f32' ? a.value : 0;
  if (!Number.isFinite(alpha)) throw new FormatError(file.path, 'adapter.lora.alpha', `must be finite, got ${alpha}`);
  return { architecture, alpha };
}

function groupPairs(file: GgufFile): { halves: Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>; norms: GgufTensorInfo[] } {
  const halves = new Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>();
  const norms: GgufTensorInfo[] = [];
  for (const t of file.tensors) {
    const m = /^(.+)\.lora_(a|b)$/.exec(t.name);
    if (!m) {
      if (!t.name.endsWith('_norm.weight')) throw new FormatError(file.path, `tensor '${t.name}'`, 'unexpected name (expected <tensor>.lora_a, <tensor>.lora_b or *_norm.weight)');
      norms.push(t);
      continue;
    }
    const entry = halves.get(m[1] ?? '') ?? {};
    entry[m[2] === 'a' ? 'a' : 'b'] = t;
    halves.set(m[1] ?? '', entry);
  }
  return { halves, norms };
}

function toPair(path: string, target: string, a: GgufTensorInfo, b: GgufTensorInfo): GgufLoraPair {
  const hf = hfNameFromGguf(target);
  if (hf === undefined || !hf.endsWith('.weight')) throw new FormatError(path, `tensor '${a.name}'`, `'${target}' is not a weight apr maps to a Hugging Face module`);
  const module = hf.slice(0, -'.weight'.length);
  if (a.dims.length !== 2 || b.dims.length !== 2) throw new FormatError(path, `tensor '${a.name}'.dims`, 'LoRA factors must be matrices');
  const [a0 = 0, a1 = 0] = a.dims;
  const [r = 0, out = 0] = b.dims;
  if (target === 'token_embd.weight') {
    // A and B are flipped for the embedding (llm_build_inp_embd): lora_a ne = [r, n_vocab]
    if (a0 !== r) throw new FormatError(path, `tensor '${a.name}'.dims`, `expected [${r}, n_vocab] (rank ${r} from lora_b), got [${a.dims.join(', ')}]`);
    return { target, module, kind: 'embedding', a, b, r, inFeatures: a1, outFeatures: out };
  }
  if (a1 !== r) throw new FormatError(path, `tensor '${a.name}'.dims`, `lora_a ne[1] = ${a1} but lora_b ne[0] = ${r} (lora_a is not transposed)`);
  return { target, module, kind: 'linear', a, b, r, inFeatures: a0, outFeatures: out };
}

/** Opens a llama.cpp LoRA GGUF and checks its keys and tensor pairs (tensor bytes are read on demand). */
export function openGgufLora(path: string): GgufLora {
  const file = readGguf(path);
  try {
    const { architecture, alpha } = checkKv(file);
    const { halves, norms } = groupPairs(file);
    const pairs: GgufLoraPair[] = [];
    for (const [target, { a, b }] of halves) {
      if (a === undefined) throw new FormatError(path, `tensor '${target}.lora_a'`, 'missing (lora_b has no lora_a)');
      if (b === undefined) throw new FormatError(path, `tensor '${target}.lora_b'`, 'missing (lora_a has no lora_b)');
      pairs.push(toPair(path, target, a, b));
    }
    return { file, architecture, alpha, pairs, norms };
  } catch (err) {
    file.close();
    throw err;
  }
}

/** Row-major [rows, cols] → [cols, rows] for 2- or 4-byte elements. */
function transposeBytes(bytes: Uint8Array, rows: number, cols: number, width: number): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out.set(bytes.subarray((i * cols + j) * width, (i * cols + j + 1) * width), (j * rows + i) * width);
  }
  return out;
}

function ref(name: string, info: GgufTensorInfo, read: () => Uint8Array): TensorRef {
  return { name, dtype: info.ggmlType, shape: [...info.dims].reverse(), byteLength: info.byteLength, read };
}

/** The RoPE heads whose rows llama's converter permuted in this pair's lora_b, or undefined. */
function ropeHeads(lora: GgufLora, p: GgufLoraPair, base: LoraBaseConfig | undefined): number | undefined {
  if (lora.architecture !== 'llama' || p.kind !== 'linear') return undefined;
  if (ropePermutationHeads(`${p.module}.weight`, 1, 1) === undefined) return undefined;
  if (base === undefined) throw new FormatError(lora.file.path, `tensor '${p.b.name}'`, "undoing llama's Q/K RoPE row permutation needs the base model's head counts (give the base model, --base <model>)");
  return ropePermutationHeads(`${p.module}.weight`, base.num_heads, base.num_kv_heads);
}

function pairRefs(lora: GgufLora, p: GgufLoraPair, base: LoraBaseConfig | undefined): TensorRef[] {
  const f = lora.file;
  const prefix = `${PEFT_PREFIX}${p.module}`;
  if (p.kind === 'embedding') {
    const width = DTYPES[p.a.ggmlType].blockSize === 1 ? DTYPES[p.a.ggmlType].blockBytes : 0;
    if (width !== 2 && width !== 4) throw new FormatError(f.path, `tensor '${p.a.name}'.type`, `${p.a.ggmlType} token_embd lora_a cannot be transposed (F32, F16 or BF16 only)`);
    const a: TensorRef = { name: `${prefix}.lora_embedding_A`, dtype: p.a.ggmlType, shape: [p.r, p.inFeatures], byteLength: p.a.byteLength, read: () => transposeBytes(f.read(p.a), p.inFeatures, p.r, width) };
    return [a, ref(`${prefix}.lora_embedding_B`, p.b, () => f.read(p.b))];
  }
  const heads = ropeHeads(lora, p, base);
  const readB = heads === undefined ? () => f.read(p.b) : () => permuteRopeRows(f.read(p.b), p.outFeatures, heads, 'gguf-to-hf');
  return [ref(`${prefix}.lora_A.weight`, p.a, () => f.read(p.a)), ref(`${prefix}.lora_B.weight`, p.b, readB)];
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** adapter_config.json for the pairs: r and alpha of the first module, patterns for modules that differ. */
function peftConfig(lora: GgufLora): Record<string, unknown> {
  const r = lora.pairs[0]?.r ?? 1;
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  for (const p of lora.pairs) {
    if (p.r === r) continue;
    rankPattern[escapeRegex(p.module)] = p.r;
    // alpha 0 means a scale of 1 in llama.cpp: alpha = r per module gives PEFT the same alpha/r = 1
    if (lora.alpha === 0) alphaPattern[escapeRegex(p.module)] = p.r;
  }
  const targets = [...new Set(lora.pairs.map((p) => p.module.split('.').at(-1) ?? p.module))].sort();
  return {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', r, lora_alpha: lora.alpha === 0 ? r : lora.alpha, target_modules: targets,
    rank_pattern: rankPattern, alpha_pattern: alphaPattern, bias: 'none', fan_in_fan_out: false, use_rslora: false, use_dora: false,
  };
}

/**
 * The GGUF adapter as a PEFT adapter (PEFT tensor names, HF row order, lora_embedding_A untransposed), lazily.
 * `base` gives the head counts llama's Q/K lora_b rows need; closing the tensors closes the file.
 */
export function ggufLoraAsPeft(lora: GgufLora, base?: LoraBaseConfig): PeftAdapter {
  const path = lora.file.path;
  if (base !== undefined && base.architecture !== lora.architecture) throw new FormatError(path, 'general.architecture', `a '${lora.architecture}' adapter does not fit a '${base.architecture}' base model`);
  const byName = new Map<string, TensorRef>();
  for (const p of lora.pairs) for (const t of pairRefs(lora, p, base)) byName.set(t.name, t);
  for (const n of lora.norms) {
    const hf = hfNameFromGguf(n.name);
    if (hf === undefined) throw new FormatError(path, `tensor '${n.name}'`, 'a norm apr does not map to a Hugging Face name');
    byName.set(`${PEFT_PREFIX}${hf}`, ref(`${PEFT_PREFIX}${hf}`, n, () => lora.file.read(n)));
  }
  const names = [...byName.keys()];
  const tensors: TensorStore = { names: () => names, get: (n) => byName.get(n), close: () => lora.file.close() };
  const config = parsePeftConfig(path, peftConfig(lora));
  return { path, config, tensors, layout: adapterLayout(path, config, tensors) };
}

/** `openGgufLora` then `ggufLoraAsPeft`. */
export function readGgufLora(path: string, base?: LoraBaseConfig): PeftAdapter {
  const lora = openGgufLora(path);
  try {
    return ggufLoraAsPeft(lora, base);
  } catch (err) {
    lora.file.close();
    throw err;
  }
}
