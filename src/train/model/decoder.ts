import type { ArchConfig } from '../../tensor/bundle.js';
import { attention } from '../autograd/attention.js';
import { embedding, linear } from '../autograd/linear.js';
import { add, rmsnorm, rope, swiglu } from '../autograd/ops.js';
import type { Tape, Var } from '../autograd/tape.js';
import type { LayerParams, ModelParams } from './params.js';

/**
 * The Llama / Qwen2 decoder on the tape, positions 0..n−1 of one sequence; the same computation as
 * src/model/decoder.ts (transformers' LlamaForCausalLM / Qwen2ForCausalLM): returns the logits [n, vocab].
 */
export function decoderOnTape(tape: Tape, c: ArchConfig, p: ModelParams, ids: ArrayLike<number>): Var {
  const n = ids.length;
  let x = embedding(tape, p.embed, ids);
  for (const l of p.layers) x = block(tape, c, l, x, n);
  const h = rmsnorm(tape, x, p.norm, n, c.hidden_size, c.rms_norm_eps);
  return linear(tape, h, n, { w: p.lmHead });
}

function block(tape: Tape, c: ArchConfig, l: LayerParams, x: Var, n: number): Var {
  const H = c.hidden_size;
  const h = rmsnorm(tape, x, l.inputNorm, n, H, c.rms_norm_eps);
  const q = rope(tape, linear(tape, h, n, l.q), n, c.num_heads, c.head_dim, c.rope_theta);
  const k = rope(tape, linear(tape, h, n, l.k), n, c.num_kv_heads, c.head_dim, c.rope_theta);
  const v = linear(tape, h, n, l.v);
  const att = attention(tape, q, k, v, { n, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim });
  const x1 = add(tape, x, linear(tape, att, n, l.o));
  const h2 = rmsnorm(tape, x1, l.postNorm, n, H, c.rms_norm_eps);
  const act = swiglu(tape, linear(tape, h2, n, l.gate), linear(tape, h2, n, l.up));
  return add(tape, x1, linear(tape, act, n, l.down));
}
