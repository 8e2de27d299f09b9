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

const GGUF_TO_HF = new Map(GLOBAL_NAMES.map(([g, h]) => [g, h]));
const HF_TO_GGUF = new Map(GLOBAL_NAMES.map(([g, h]) => [h, g]));
const LAYER_G2H = new Map(LAYER_NAMES.map(([g, h]) => [g, h]));
const LAYER_H2G = new Map(LAYER_NAMES.map(([g, h]) => [h, g]));

/** `blk.3.attn_q.weight` → `model.layers.3.self_attn.q_proj.weight`; undefined for a name llama.cpp's llama/qwen2 do not use. */
export function hfNameFromGguf(name: string): string | undefined {
  const global = GGUF_TO_HF.get(name);
  if (global) return global;
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  const part = m && LAYER_G2H.get(m[2] ?? '');
  return m && part ? `model.layers.${m[1]}.${part}.${m[3]}` : undefined;
}

/** The inverse of `hfNameFromGguf`. */
export function ggufNameFromHf(name: string): string | undefined {
  const global = HF_TO_GGUF.get(name);
  if (global) return global;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  const part = m && LAYER_H2G.get(m[2] ?? '');
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
