import { allFinite, idsInRange } from '../contract/predicates.js';
import { defineContract } from '../contract/index.js';
import { contractMode } from '../contract/mode.js';
import type { Backend, SlotBuffers } from '../kernels/types.js';
import type { ArchConfig } from '../tensor/bundle.js';
import type { Model } from './decoder.js';
import type { KVCache, KVCacheImpl } from './kv-cache.js';
import { KVArena } from './kv-arena.js';
import { type AttentionBuffers, type AttentionCore, attendRow, attendRowsInSlots, type LayerStack, ropeAttend } from './layers.js';

/**
 * One decode step of several sequences together (continuous batching): row i is token i of sequence i, at
 * the next position of its own cache. Every weight is applied once to all rows (the backend's n-row
 * `matmul`, batch-invariant by the Backend contract); RoPE, the KV-cache write and attention run per row
 * with that row's position and cache, through the same one-row calls as a one-token `forward`. So row i of
 * the result is bit-identical to `forward([tokens[i]], caches[i].length, caches[i])`.
 */

interface BatchForwardInput {
  model: Model;
  tokens: readonly number[];
  caches: readonly KVCache[];
}

interface Lengths {
  before: number[];
}

export const batchForwardContract = defineContract<BatchForwardInput & Lengths, Float32Array>({
  id: 'model-batch-decoder-v1',
  equation: 'decoder_forward_batch',
  spec: 'forwardBatch(t, C)[i] ≡ forward([t_i], |C_i|, C_i) bit for bit; every C_i grows by one position',
  pre: [
    ['one token per cache, at least one', ({ tokens, caches }) => tokens.length >= 1 && tokens.length === caches.length],
    ['token ids in [0, vocab)', ({ model, tokens }) => idsInRange(tokens, model.config.vocab_size)],
    ['distinct caches', ({ caches }) => new Set(caches).size === caches.length],
  ],
  post: [
    ['logits shape', ({ model, tokens }, out) => out.length === tokens.length * model.config.vocab_size],
    ['finite logits', (_i, out) => allFinite(out)],
    // Stryker disable next-line UnaryOperator: `before` has one length per cache, so the fallback is never taken
    ['each cache advanced by one', ({ caches, before }) => caches.every((c, i) => c.length === (before[i] ?? -2) + 1)],
  ],
});

function input(model: Model, tokens: readonly number[], caches: readonly KVCache[]): BatchForwardInput & Lengths {
  return { model, tokens, caches, before: caches.map((c) => c.length) };
}

/** The one-token forward of each row, one after the other (models without a batched step). */
function forwardRows(model: Model, tokens: readonly number[], caches: readonly KVCache[]): Float32Array {
  const V = model.config.vocab_size;
  const out = new Float32Array(tokens.length * V);
  tokens.forEach((t, i) => {
    const cache = caches[i] as KVCache;
    out.set(model.forward([t], cache.length, cache), i * V);
  });
  return out;
}

/** Runs `fn`, a batched step of `model`, with the contract checked (the models' `forwardBatch` use it). */
export function checkedBatch(model: Model, tokens: readonly number[], caches: readonly KVCache[], fn: () => Float32Array): Float32Array {
  return batchForwardContract.run(input(model, tokens, caches), fn);
}

/** `checkedBatch` for a step that reads back asynchronously: the same checks around the await. */
export async function checkedBatchAsync(model: Model, tokens: readonly number[], caches: readonly KVCache[], fn: () => Promise<Float32Array>): Promise<Float32Array> {
  const args = input(model, tokens, caches);
  const mode = contractMode();
  if (mode !== 'off') batchForwardContract.checkPre(args);
  const out = await fn();
  if (mode === 'full') batchForwardContract.checkPost(args, out);
  return out;
}

/** One batched decode step of `model` (row by row for a model without `forwardBatch`). */
function forwardBatch(model: Model, tokens: readonly number[], caches: readonly KVCache[]): Float32Array {
  return model.forwardBatch ? model.forwardBatch(tokens, caches) : checkedBatch(model, tokens, caches, () => forwardRows(model, tokens, caches));
}

/** `forwardBatch` through the backend's asynchronous read-back where the model has one (WebGPU). */
export function forwardBatchAsync(model: Model, tokens: readonly number[], caches: readonly KVCache[]): Promise<Float32Array> {
  return model.forwardBatchAsync ? model.forwardBatchAsync(tokens, caches) : Promise.resolve(forwardBatch(model, tokens, caches));
}

/** One row's q, k, v and attention output, for the per-row part of a batched step. */
export function allocRowBuffers<B>(be: Backend<B, unknown>, c: ArchConfig): AttentionBuffers<B> {
  const qDim = c.num_heads * c.head_dim;
  const kvDim = c.num_kv_heads * c.head_dim;
  return { q: be.alloc(qDim), k: be.alloc(kvDim), v: be.alloc(kvDim), att: be.alloc(qDim) };
}

export function releaseRowBuffers<B>(be: Backend<B, unknown>, r: AttentionBuffers<B> | undefined): void {
  if (r) for (const buf of [r.q, r.k, r.v, r.att]) be.release?.(buf);
}

/**
 * The attention core of a batched step: row i of the chunk sits at position `caches[i].length` of
 * `caches[i]`. Where every cache is a slot of one KVArena, all rows of a layer go through the backend's
 * `attendRows` at once. Otherwise each row is copied into `row`, run through the one-row RoPE / KV write /
 * attention (the calls a one-token forward makes) and its output copied back; a backend with `attendRow`
 * takes the row in place instead, as the one-token forward does. Either way row i gets the bits of its own
 * one-token forward.
 */
export function batchCore<B, W>(st: LayerStack<B, W>, row: AttentionBuffers<B>, caches: readonly KVCacheImpl<B>[]): AttentionCore<B> {
  const c = st.config;
  const be = st.be;
  const qDim = c.num_heads * c.head_dim;
  const kvDim = c.num_kv_heads * c.head_dim;
  const arena = caches[0]?.slotOf?.arena;
  const slots = arena instanceof KVArena ? (arena as KVArena<B>).slotsOf(caches) : undefined;
  const places = slots?.map((slot, i) => ({ slot, pos: (caches[i] as KVCacheImpl<B>).length }));
  return (s, n, l) => {
    if (places !== undefined && n === places.length) {
      const a = arena as KVArena<B>;
      if (attendRowsInSlots(st, s, places, { k: a.k[l] as SlotBuffers<B>, v: a.v[l] as SlotBuffers<B> }, (caches[0] as KVCacheImpl<B>).capacity, l)) return;
    }
    for (let i = 0; i < n; i++) {
      const cache = caches[i] as KVCacheImpl<B>;
      if (attendRow(st, s, i, cache.length, cache.k[l] as B, cache.v[l] as B, cache.capacity, l)) continue;
      be.copy(s.q, i * qDim, row.q, 0, qDim);
      be.copy(s.k, i * kvDim, row.k, 0, kvDim);
      be.copy(s.v, i * kvDim, row.v, 0, kvDim);
      ropeAttend(st, row, 1, cache.length, cache.k[l] as B, cache.v[l] as B, cache.capacity, l);
      be.copy(row.att, 0, s.att, i * qDim, qDim);
    }
  };
}
