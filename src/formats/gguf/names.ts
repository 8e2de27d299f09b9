/** llama.cpp tensor names ↔ Hugging Face names, and the Q/K RoPE row permutation of convert_hf_to_gguf.py. */

const GLOBAL_NAMES: readonly (readonly [string, string])[] = [
  ['token_embd.weight', 'model.embed_tokens.weight'],
  ['output_norm.weight', 'model.norm.weight'],
  ['output.weight', 'lm_head.weight'],
];

const LAYER_NAMES: readonly (readonly [string, string])[] = [
  ['attn_q', 'self_attn.q_proj'],
  ['attn_k', 'self_attn.k_proj'],
  ['attn_v', 'self_attn.v_proj'],
  ['attn_output', 'self_attn.o_proj'],
  ['attn_norm', 'input_layernorm'],
  ['ffn_gate', 'mlp.gate_proj'],
  ['ffn_up', 'mlp.up_proj'],
  ['ffn_down', 'mlp.down_proj'],
  ['ffn_norm', 'post_attention_layernorm'],
];

/**
 * Per-architecture additions and differences (gguf-py's tensor_mapping for that arch): Qwen3's and Gemma 3's
 * q/k norms; Gemma's post_attention_layernorm normalises the attention output (post_attention_norm) and
 * pre_feedforward_layernorm is llama.cpp's ffn_norm; Phi-3's fused qkv_proj is attn_qkv and its fused
 * gate_up_proj is ffn_up.
 */
const QK_NORMS: readonly (readonly [string, string])[] = [
  ['attn_q_norm', 'self_attn.q_norm'],
  ['attn_k_norm', 'self_attn.k_norm'],
];
const GEMMA_NAMES: readonly (readonly [string, string])[] = [
  ['ffn_norm', 'pre_feedforward_layernorm'],
  ['post_attention_norm', 'post_attention_layernorm'],
  ['post_ffw_norm', 'post_feedforward_layernorm'],
];
const ARCH_LAYER_NAMES: Record<string, readonly (readonly [string, string])[]> = {
  qwen3: QK_NORMS,
  gemma2: GEMMA_NAMES,
  gemma3: [...GEMMA_NAMES, ...QK_NORMS],
  phi3: [['attn_qkv', 'self_attn.qkv_proj'], ['ffn_up', 'mlp.gate_up_proj']],
};

const GGUF_TO_HF = new Map(GLOBAL_NAMES.map(([g, h]) => [g, h]));
const HF_TO_GGUF = new Map(GLOBAL_NAMES.map(([g, h]) => [h, g]));

interface LayerMaps {
  g2h: Map<string, string>;
  h2g: Map<string, string>;
}
const layerMaps = new Map<string, LayerMaps>();

function layerMap(arch: string): LayerMaps {
  // Stryker disable next-line StringLiteral: the key of unknown architectures only names a cache entry; any string not in ARCH_LAYER_NAMES gives the same maps.
  const key = arch in ARCH_LAYER_NAMES ? arch : '';
  let maps = layerMaps.get(key);
  // Stryker disable next-line ConditionalExpression: rebuilding the maps on every call gives the same maps (a cache).
  if (!maps) {
    const own = ARCH_LAYER_NAMES[key] ?? [];
    const pairs = [...LAYER_NAMES.filter(([g, h]) => !own.some(([g2, h2]) => g2 === g || h2 === h)), ...own];
    maps = { g2h: new Map(pairs.map(([g, h]) => [g, h])), h2g: new Map(pairs.map(([g, h]) => [h, g])) };
    layerMaps.set(key, maps);
  }
  return maps;
}

/**
 * `blk.3.attn_q.weight` → `model.layers.3.self_attn.q_proj.weight` for the GGUF architecture `arch`
 * (default llama); undefined for a name that architecture does not use.
 */
// Stryker disable next-line StringLiteral: 'llama' has no ARCH_LAYER_NAMES entry, so '' selects the same maps.
export function hfNameFromGguf(name: string, arch = 'llama'): string | undefined {
  const global = GGUF_TO_HF.get(name);
  if (global) return global;
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  // Stryker disable next-line StringLiteral: the group always captures when the regex matched, so the fallback is never used.
  const part = m && layerMap(arch).g2h.get(m[2] ?? '');
  return m && part ? `model.layers.${m[1]}.${part}.${m[3]}` : undefined;
}

/** The inverse of `hfNameFromGguf`. */
// Stryker disable next-line StringLiteral: 'llama' has no ARCH_LAYER_NAMES entry, so '' selects the same maps.
export function ggufNameFromHf(name: string, arch = 'llama'): string | undefined {
  const global = HF_TO_GGUF.get(name);
  if (global) return global;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  // Stryker disable next-line StringLiteral: the group always captures when the regex matched, so the fallback is never used.
  const part = m && layerMap(arch).h2g.get(m[2] ?? '');
  return m && part ? `blk.${m[1]}.${part}.${m[3]}` : undefined;
}

/** The number of heads whose rows convert_hf_to_gguf.py permutes for a llama tensor (HF name), or undefined. */
export function ropePermutationHeads(hfName: string, numHeads: number, numKvHeads: number): number | undefined {
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return numHeads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return numKvHeads;
  return undefined;
}

/**
 * convert_hf_to_gguf.py's `permute`: reshape(n_head, 2, rows/n_head/2, …).swapaxes(1, 2), i.e. within each
 * head the GGUF row `2b + a` is the HF row `a·half + b` (half = head_dim/2). A pure row permutation, so it
 * applies to the raw bytes of any dtype (each row is whole blocks). `direction` says which way to go.
 */
export function permuteRopeRows(bytes: Uint8Array, rows: number, nHead: number, direction: 'hf-to-gguf' | 'gguf-to-hf'): Uint8Array {
  if (rows % (2 * nHead) !== 0) throw new RangeError(`RoPE permutation: ${rows} rows do not split into ${nHead} heads of an even size`);
  if (bytes.byteLength % rows !== 0) throw new RangeError(`RoPE permutation: ${bytes.byteLength} bytes do not split into ${rows} rows`);
  const rowBytes = bytes.byteLength / rows;
  const headDim = rows / nHead;
  const half = headDim / 2;
  const out = new Uint8Array(bytes.byteLength);
  for (let h = 0; h < nHead; h++) {
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < half; b++) {
        const g = h * headDim + 2 * b + a;
        const f = h * headDim + a * half + b;
        const [src, dst] = direction === 'hf-to-gguf' ? [f, g] : [g, f];
        out.set(bytes.subarray(src * rowBytes, (src + 1) * rowBytes), dst * rowBytes);
      }
    }
  }
  return out;
}
