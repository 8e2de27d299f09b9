import type { ActivationSite } from '../../model/decoder.js';

/** The linear projections of a decoder layer and the activation site that feeds each. */
const PROJECTIONS = {
  'self_attn.q_proj': 'attn_in',
  'self_attn.k_proj': 'attn_in',
  'self_attn.v_proj': 'attn_in',
  'self_attn.o_proj': 'o_in',
  'mlp.gate_proj': 'mlp_in',
  'mlp.up_proj': 'mlp_in',
  'mlp.down_proj': 'down_in',
} as const satisfies Record<string, ActivationSite>;

const LINEAR_RE = /^model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.weight$/;
const EMBEDDINGS = new Set(['model.embed_tokens.weight', 'lm_head.weight']);

export interface LinearTarget {
  layer: number;
  site: ActivationSite;
}

/** Layer and input site of a decoder projection weight, or undefined for any other tensor. */
export function linearTarget(name: string): LinearTarget | undefined {
  const m = LINEAR_RE.exec(name);
  if (!m) return undefined;
  return { layer: Number(m[1]), site: PROJECTIONS[m[2] as keyof typeof PROJECTIONS] };
}

/** Tensors unstructured pruning touches: projection weights, and the embeddings / LM head only when asked. */
export function isPrunable(name: string, includeEmbeddings: boolean): boolean {
  return linearTarget(name) !== undefined || (includeEmbeddings && EMBEDDINGS.has(name));
}
