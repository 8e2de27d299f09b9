import type { Backend, KernelFeature } from '../kernels/types.js';
import { type ArchTraits, archTraits, type LayerAttention, layerAttention } from '../tensor/arch.js';
import type { ArchConfig } from '../tensor/bundle.js';

/** The per-architecture choices of the forward pass, computed once per config (see src/tensor/arch.ts). */
export interface ArchPlan {
  readonly traits: ArchTraits;
  /** RoPE base/width, window, soft-cap and scale of each layer's attention. */
  readonly attn: readonly LayerAttention[];
  /** float32 √hidden_size when embeddings are scaled on input (Gemma). */
  readonly embedScale?: number;
  /** Final logits soft-cap (Gemma 2). */
  readonly finalSoftcap?: number;
}

const plans = new WeakMap<ArchConfig, ArchPlan>();

export function archPlan(c: ArchConfig): ArchPlan {
  let p = plans.get(c);
  if (p) return p;
  const traits = archTraits(c);
  const attn = Array.from({ length: c.num_layers }, (_, l) => layerAttention(c, l));
  p = {
    traits,
    attn,
    ...(traits.embedScale ? { embedScale: Math.fround(Math.sqrt(c.hidden_size)) } : {}),
    ...(typeof c.final_logit_softcapping === 'number' ? { finalSoftcap: c.final_logit_softcapping } : {}),
  };
  plans.set(c, p);
  return p;
}

const FEATURE_NAMES: Record<KernelFeature, string> = {
  'attention-window': 'sliding-window attention',
  'attention-softcap': 'attention soft-capping',
  'attention-scale': 'a custom attention scale',
  'rope-partial': 'partial RoPE',
  'weights-any-block': 'products on every block dtype',
};

/** The kernels (features and optional methods) a config needs beyond the Llama set. */
function needs(c: ArchConfig): { features: KernelFeature[]; methods: ('geglu' | 'scale' | 'softcap')[] } {
  const p = archPlan(c);
  const features = new Set<KernelFeature>();
  for (const a of p.attn) {
    if (a.window !== undefined) features.add('attention-window');
    if (a.softcap !== undefined) features.add('attention-softcap');
    if (a.scale !== undefined) features.add('attention-scale');
    if (a.rotaryDim !== c.head_dim) features.add('rope-partial');
  }
  const methods: ('geglu' | 'scale' | 'softcap')[] = [];
  if (p.traits.activation === 'gelu_tanh') methods.push('geglu');
  if (p.embedScale !== undefined) methods.push('scale');
  if (p.finalSoftcap !== undefined) methods.push('softcap');
  return { features: [...features], methods };
}

/**
 * What `be` lacks to run `c` correctly, as readable names ([] when nothing): a backend that lacks one must
 * not run the model (it would ignore the option and give wrong logits).
 */
export function missingKernels<B, W>(c: ArchConfig, be: Backend<B, W>): string[] {
  const { features, methods } = needs(c);
  const have = new Set(be.features ?? []);
  const out = features.filter((f) => !have.has(f)).map((f) => FEATURE_NAMES[f]);
  for (const m of methods) if (be[m] === undefined) out.push(m === 'geglu' ? 'the GELU-tanh gate' : m === 'scale' ? 'embedding scaling' : 'logit soft-capping');
  return out;
}

/** The error for an optional kernel a model needs and its backend lacks (loadModel checks `missingKernels` first). */
export function kernelMissing(name: string, backend: string): Error {
  return new Error(`backend ${backend} has no ${name} kernel`);
}
