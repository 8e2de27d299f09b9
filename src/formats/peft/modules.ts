import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { FormatError } from '../errors.js';
import { type PeftLoraConfig, loraScaling } from './config.js';

/** PEFT's prefix on every saved tensor name (`PeftModelForCausalLM.base_model.model`). */
export const PEFT_PREFIX = 'base_model.model.';

const LORA_RE = /^base_model\.model\.(.+)\.(lora_A\.weight|lora_B\.weight|lora_B\.bias|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)$/;

/** One adapted module: the low-rank factors and how they apply to the base weight `<module>.weight`. */
export interface LoraModule {
  /** Module path in the base model, e.g. `model.layers.0.self_attn.q_proj`. */
  module: string;
  kind: 'linear' | 'embedding';
  /** [r, in] (linear) or [r, num_embeddings] (embedding). */
  a: TensorRef;
  /** [out, r] (linear) or [embedding_dim, r] (embedding). */
  b: TensorRef;
  /** DoRA magnitude, [out]. */
  magnitude?: TensorRef;
  /** lora_B bias (`lora_bias=True`), [out]. */
  biasB?: TensorRef;
  r: number;
  alpha: number;
  scale: number;
}

export interface AdapterLayout {
  modules: LoraModule[];
  /** Adapter tensors that replace a base tensor outright (trained biases, modules_to_save), by base name. */
  replacements: Map<string, TensorRef>;
}

interface Parts {
  a?: TensorRef;
  b?: TensorRef;
  ea?: TensorRef;
  eb?: TensorRef;
  magnitude?: TensorRef;
  biasB?: TensorRef;
}

const PART_KEY: Record<string, keyof Parts> = {
  'lora_A.weight': 'a',
  'lora_B.weight': 'b',
  lora_embedding_A: 'ea',
  lora_embedding_B: 'eb',
  lora_magnitude_vector: 'magnitude',
  'lora_B.bias': 'biasB',
};

function groupTensors(path: string, tensors: TensorStore): { parts: Map<string, Parts>; replacements: Map<string, TensorRef> } {
  const parts = new Map<string, Parts>();
  const replacements = new Map<string, TensorRef>();
  for (const name of tensors.names()) {
    const ref = tensors.get(name);
    if (!ref) continue;
    const m = LORA_RE.exec(name);
    if (m) {
      // Stryker disable next-line StringLiteral: group 1 always captures when LORA_RE matched, so the fallback is never used.
      const module = m[1] ?? '';
      const entry = parts.get(module) ?? {};
      // Stryker disable next-line StringLiteral: group 2 always captures one of PART_KEY's keys when LORA_RE matched, so neither fallback is used.
      entry[PART_KEY[m[2] ?? ''] ?? 'a'] = ref;
      parts.set(module, entry);
    } else if (name.startsWith(PEFT_PREFIX)) {
      replacements.set(name.slice(PEFT_PREFIX.length), ref);
    } else {
      throw new FormatError(path, name, `not a PEFT tensor name (expected the prefix '${PEFT_PREFIX}')`);
    }
  }
  return { parts, replacements };
}

function expectShape(path: string, t: TensorRef, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new FormatError(path, `${t.name}.shape`, `expected ${JSON.stringify(shape)}, got ${JSON.stringify(t.shape)}`);
  }
}

/** The A and B factors of a module: the linear pair or the embedding pair, never a mix of both. */
function factors(path: string, module: string, p: Parts): { a: TensorRef; b: TensorRef; embedding: boolean } {
  const embedding = p.ea !== undefined || p.eb !== undefined;
  const field = `${PEFT_PREFIX}${module}`;
  const a = embedding ? p.ea : p.a;
  const b = embedding ? p.eb : p.b;
  if (a === undefined) throw new FormatError(path, field, `has no ${embedding ? 'lora_embedding_A' : 'lora_A.weight'}`);
  if (b === undefined) throw new FormatError(path, field, `has no ${embedding ? 'lora_embedding_B' : 'lora_B.weight'}`);
  if (embedding && (p.a !== undefined || p.b !== undefined)) throw new FormatError(path, field, 'mixes linear and embedding LoRA factors');
  return { a, b, embedding };
}

/** The DoRA magnitude and lora_B bias are vectors over the output dimension; DoRA must match the config. */
function checkExtras(path: string, config: PeftLoraConfig, module: string, p: Parts, out: number): void {
  if (p.magnitude) expectShape(path, p.magnitude, [out]);
  if (p.biasB) expectShape(path, p.biasB, [out]);
  if (p.magnitude && !config.use_dora) throw new FormatError(path, p.magnitude.name, 'DoRA magnitude present but use_dora is false');
  if (!p.magnitude && config.use_dora) throw new FormatError(path, `${PEFT_PREFIX}${module}.lora_magnitude_vector`, 'missing although use_dora is true');
}

function toModule(path: string, config: PeftLoraConfig, module: string, p: Parts): LoraModule {
  const { a, b, embedding } = factors(path, module, p);
  const { r, alpha, scale } = loraScaling(path, config, module);
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new FormatError(path, `${a.name}.shape`, 'LoRA factors must be matrices');
  expectShape(path, a, [r, a.shape[1] ?? 0]);
  expectShape(path, b, [b.shape[0] ?? 0, r]);
  checkExtras(path, config, module, p, b.shape[0] ?? 0);
  const mod: LoraModule = { module, kind: embedding ? 'embedding' : 'linear', a, b, r, alpha, scale };
  if (p.magnitude) mod.magnitude = p.magnitude;
  if (p.biasB) mod.biasB = p.biasB;
  return mod;
}

/** Pairs the adapter's tensors into modules and checks their shapes against the config's ranks. */
export function adapterLayout(path: string, config: PeftLoraConfig, tensors: TensorStore): AdapterLayout {
  const { parts, replacements } = groupTensors(path, tensors);
  const modules = [...parts.entries()].map(([module, p]) => toModule(path, config, module, p));
  return { modules, replacements };
}
