import { join } from 'node:path';
import type { ModelBundle, TokenizerSpec } from '../../tensor/bundle.js';
import { elementCount } from '../../tensor/dtype.js';
import { type TensorRef, requireTensor } from '../../tensor/store.js';
import { writeAtomically } from '../atomic-write.js';
import { planSafetensors, writeSafetensors } from '../safetensors/write.js';
import { type DirWriteOptions, writeDirAtomically } from './atomic-dir.js';
import { archConfigToHf } from './config-map.js';
import { pythonJsonDumps } from './json-text.js';

/** transformers' default `max_shard_size` ("5GB", decimal units as huggingface_hub parses them). */
const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

export interface HfDirWriteOptions extends DirWriteOptions {
  /** Start a new shard before a tensor that would take the current one past this size. */
  maxShardBytes?: number;
}

export interface HfDirWriteResult {
  files: string[];
  shards: { file: string; tensors: string[]; bytes: number }[];
  totalBytes: number;
}

const LAYER_MODULES = [
  'self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'self_attn.qkv_proj', 'self_attn.q_norm', 'self_attn.k_norm',
  'mlp.gate_proj', 'mlp.up_proj', 'mlp.gate_up_proj', 'mlp.down_proj',
  'input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm',
];
const LAYER_RE = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/;

/** Position of a tensor in the state dict of the model (transformers' module registration order). */
function stateDictKey(name: string): number[] {
  // Stryker disable next-line ArrayDeclaration: [] compares below every other key ([1, …] to [4]) just as [0] does, missing entries counting as -1.
  if (name === 'model.embed_tokens.weight') return [0];
  const m = LAYER_RE.exec(name);
  if (m) {
    // Stryker disable next-line StringLiteral: group 2 of LAYER_RE is not optional, so m[2] is always a string.
    const mod = LAYER_MODULES.indexOf(m[2] ?? '');
    return [1, Number(m[1]), mod < 0 ? LAYER_MODULES.length : mod, m[3] === 'weight' ? 0 : 1];
  }
  if (name === 'model.norm.weight') return [2];
  if (name === 'lm_head.weight') return [3];
  return [4];
}

/** Tensor names in the order transformers' `save_pretrained` meets them (unknown names last, by name). */
export function hfTensorOrder(names: readonly string[]): string[] {
  const keyed = names.map((n) => ({ n, k: stateDictKey(n) }));
  keyed.sort((a, b) => {
    // Stryker disable next-line MethodExpression: keys of different lengths differ at index 0 (see below), so min and max decide the same.
    for (let i = 0; i < Math.max(a.k.length, b.k.length); i++) {
      // Stryker disable next-line UnaryOperator: keys with equal first entries have equal lengths (1 → length 4; 0, 2, 3, 4 → length 1), so the fallback is never read.
      const d = (a.k[i] ?? -1) - (b.k[i] ?? -1);
      if (d !== 0) return d;
    }
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
  });
  return keyed.map((x) => x.n);
}

/** huggingface_hub's `split_state_dict_into_shards`: greedy in order; a tensor above the limit gets its own shard. */
export function planShards(tensors: readonly TensorRef[], maxShardBytes: number): TensorRef[][] {
  const shards: TensorRef[][] = [];
  let current: TensorRef[] = [];
  let size = 0;
  for (const t of tensors) {
    if (t.byteLength > maxShardBytes) {
      shards.push([t]);
      continue;
    }
    if (size + t.byteLength > maxShardBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(t);
    size += t.byteLength;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

function torchDtype(tensors: readonly TensorRef[]): string {
  const bytes = { F32: 0, F16: 0, BF16: 0 };
  for (const t of tensors) if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16') bytes[t.dtype] += t.byteLength;
  if (bytes.BF16 > bytes.F32 && bytes.BF16 >= bytes.F16) return 'bfloat16';
  if (bytes.F16 > bytes.F32) return 'float16';
  return 'float32';
}

function writeText(path: string, text: string): void {
  writeAtomically(path, (f) => f.write(new TextEncoder().encode(text)));
}

function writeTokenizer(dir: string, spec: TokenizerSpec): string[] {
  const files = ['tokenizer.json'];
  writeText(join(dir, 'tokenizer.json'), spec.json);
  if (spec.chatTemplate !== undefined) {
    writeText(join(dir, 'chat_template.jinja'), spec.chatTemplate);
    files.push('chat_template.jinja');
  }
  if (spec.config) {
    const config = { ...spec.config };
    // transformers 5 keeps the template in chat_template.jinja only.
    if (spec.chatTemplate !== undefined && config['chat_template'] === spec.chatTemplate) delete config['chat_template'];
    writeText(join(dir, 'tokenizer_config.json'), `${pythonJsonDumps(config)}\n`);
    files.push('tokenizer_config.json');
  }
  if (spec.generationConfig) {
    writeText(join(dir, 'generation_config.json'), `${pythonJsonDumps(spec.generationConfig)}\n`);
    files.push('generation_config.json');
  }
  return files;
}

function shardName(i: number, n: number): string {
  return n === 1 ? 'model.safetensors' : `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

function writeWeights(dir: string, tensors: readonly TensorRef[], maxShardBytes: number): HfDirWriteResult['shards'] {
  const shards = planShards(tensors, maxShardBytes);
  if (shards.length === 0) shards.push([]);
  const out = shards.map((group, i) => {
    const file = shardName(i, shards.length);
    const bytes = writeSafetensors(join(dir, file), group, { format: 'pt' });
    return { file, tensors: group.map((t) => t.name), bytes };
  });
  if (out.length > 1) {
    const weightMap: Record<string, string> = {};
    for (const s of out) for (const n of s.tensors) weightMap[n] = s.file;
    const index = {
      metadata: { total_parameters: tensors.reduce((n, t) => n + elementCount(t.shape), 0), total_size: tensors.reduce((n, t) => n + t.byteLength, 0) },
      weight_map: weightMap,
    };
    writeText(join(dir, 'model.safetensors.index.json'), `${pythonJsonDumps(index, { ensureAscii: true })}\n`);
  }
  return out;
}

/**
 * Writes a bundle as a Hugging Face model folder that transformers loads: config.json, the weights as
 * `model.safetensors` or shards with `model.safetensors.index.json` (split as `save_pretrained` splits
 * them), and the tokenizer files. A tied model's lm_head is not written. The folder appears atomically.
 */
export function writeHfDir(bundle: ModelBundle, outDir: string, options: HfDirWriteOptions = {}): HfDirWriteResult {
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!(maxShardBytes > 0)) throw new RangeError(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const names = bundle.tensors.names().filter((n) => !(bundle.config.tie_word_embeddings && n === 'lm_head.weight'));
  const tensors = hfTensorOrder(names).map((n) => requireTensor(bundle.tensors, n));
  // Validate every tensor before any byte is written.
  planSafetensors(join(outDir, 'model.safetensors'), tensors);
  return writeDirAtomically(
    outDir,
    (dir) => {
      const config = { ...archConfigToHf(bundle.config), dtype: torchDtype(tensors) };
      writeText(join(dir, 'config.json'), `${pythonJsonDumps(config)}\n`);
      const shards = writeWeights(dir, tensors, maxShardBytes);
      const files = ['config.json', ...shards.map((s) => s.file)];
      if (shards.length > 1) files.push('model.safetensors.index.json');
      if (bundle.tokenizer) files.push(...writeTokenizer(dir, bundle.tokenizer));
      return { files, shards, totalBytes: shards.reduce((n, s) => n + s.bytes, 0) };
    },
    options,
  );
}
