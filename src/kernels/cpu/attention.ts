import { allFinite } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';
import type { AttentionShape } from '../types.js';
import { type WasmKernels, wasmKernels } from './wasm/runtime.js';

/**
 * KV cache writes and causal grouped-query attention. The cache of one layer is `[kvHeads][capacity][headDim]`
 * (the keys of one KV head are contiguous). Query head h reads KV head ⌊h / (heads / kvHeads)⌋, as
 * transformers' repeat_kv. Scores, softmax and the weighted sum run in float64 in position order, the same
 * for every query row, so a batched prefill equals one-token decoding bit for bit.
 */

let scores = new Float64Array(1024);
let acc = new Float64Array(256);


interface KvStoreInput {
  cache: Float32Array;
  src: Float32Array;
  n: number;
  kvHeads: number;
  headDim: number;
  startPos: number;
  capacity: number;
}

export const kvStoreContract = defineContract<KvStoreInput, Float32Array>({
  id: 'kernel-kv-store-v1',
  equation: 'kv_store',
  spec: 'cache[g, startPos + t, :] ← src[t, g, :] for t < n, g < kvHeads',
  pre: [
    ['positions fit the capacity', ({ n, startPos, capacity }) => Number.isInteger(startPos) && startPos >= 0 && startPos + n <= capacity],
    ['cache holds kvHeads·capacity·headDim floats', ({ cache, kvHeads, capacity, headDim }) => cache.length >= kvHeads * capacity * headDim],
    ['src holds n·kvHeads·headDim floats', ({ src, n, kvHeads, headDim }) => src.length >= n * kvHeads * headDim],
  ],
});

export function kvStore(cache: Float32Array, src: Float32Array, n: number, kvHeads: number, headDim: number, startPos: number, capacity: number): Float32Array {
  return kvStoreContract.run({ cache, src, n, kvHeads, headDim, startPos, capacity }, () => {
    for (let t = 0; t < n; t++) {
      for (let g = 0; g < kvHeads; g++) {
        const s = (t * kvHeads + g) * headDim;
        cache.set(src.subarray(s, s + headDim), (g * capacity + startPos + t) * headDim);
      }
    }
    return cache;
  });
}

interface AttentionInput {
  q: Float32Array;
  kCache: Float32Array;
  vCache: Float32Array;
  shape: AttentionShape;
  out: Float32Array;
}

export const attentionContract = defineContract<AttentionInput, Float32Array>({
  id: 'kernel-attention-v1',
  equation: 'causal_gqa_attention',
  spec: 'out[t, h] = Σ_{lo ≤ j ≤ p} softmax_j(cap(σ·q[t,h]·K[g(h), j])) · V[g(h), j],  p = startPos+t, lo = max(0, p−window+1), σ = scale ?? 1/√d, cap(s) = c·tanh(s/c) with softcap c (else s), g(h) = ⌊h·kvHeads/heads⌋',
  pre: [
    ['heads divisible by kvHeads', ({ shape }) => shape.kvHeads >= 1 && shape.heads % shape.kvHeads === 0],
    ['positions fit the capacity', ({ shape }) => shape.startPos >= 0 && shape.startPos + shape.n <= shape.capacity],
    ['q and out hold n·heads·headDim floats', ({ q, out, shape }) => q.length >= shape.n * shape.heads * shape.headDim && out.length >= shape.n * shape.heads * shape.headDim],
    ['caches hold kvHeads·capacity·headDim floats', ({ kCache, vCache, shape: s }) => kCache.length >= s.kvHeads * s.capacity * s.headDim && vCache.length >= s.kvHeads * s.capacity * s.headDim],
    ['window, softcap and scale positive when given', ({ shape: s }) => (s.window === undefined || (Number.isInteger(s.window) && s.window >= 1)) && [s.softcap, s.scale].every((v) => v === undefined || (Number.isFinite(v) && v > 0))],
  ],
  post: [['finite output', ({ shape: s }, out) => allFinite(out, s.n * s.heads * s.headDim)]],
});

export function attention(q: Float32Array, kCache: Float32Array, vCache: Float32Array, shape: AttentionShape, out: Float32Array): Float32Array {
  return attentionContract.run({ q, kCache, vCache, shape, out }, () => {
    const { n, startPos, heads, headDim } = shape;
    // Stryker disable next-line EqualityOperator: growing when scores already holds exactly startPos + n entries only swaps in another buffer that is large enough
    if (scores.length < startPos + n) scores = new Float64Array(Math.max(startPos + n, 2 * scores.length));
    // Stryker disable next-line EqualityOperator: reallocating when acc already holds exactly headDim entries gives another zeroed buffer of the needed size
    if (acc.length < headDim) acc = new Float64Array(headDim);
    const k = wasmKernels;
    const simd = k !== undefined && headDim % 8 === 0 && k.owns(q) && k.owns(kCache) && k.owns(vCache) && k.owns(out);
    for (let t = 0; t < n; t++) {
      for (let h = 0; h < heads; h++) {
        if (simd) attendOneWasm(k, q, kCache, vCache, shape, t, h, out);
        else attendOne(q, kCache, vCache, shape, t, h, out);
      }
    }
    return out;
  });
}

/** The first visible key of query row t: max(0, p − window + 1) with p = startPos + t (0 without a window). */
function firstKey(shape: AttentionShape, t: number): number {
  return shape.window === undefined ? 0 : Math.max(0, shape.startPos + t + 1 - shape.window);
}

/** Gemma 2's soft-capping of one score (identity without a cap). */
function cap(s: number, c: number | undefined): number {
  return c === undefined ? s : c * Math.tanh(s / c);
}

/** One query row t, one head h. */
function attendOne(q: Float32Array, kc: Float32Array, vc: Float32Array, shape: AttentionShape, t: number, h: number, out: Float32Array): void {
  const { startPos, heads, kvHeads, headDim: d, capacity, softcap } = shape;
  const len = startPos + t + 1;
  const lo = firstKey(shape, t);
  const base = Math.floor(h / (heads / kvHeads)) * capacity * d;
  const qo = (t * heads + h) * d;
  const scale = shape.scale ?? 1 / Math.sqrt(d);
  const sc = scores;
  let max = -Infinity;
  for (let j = lo; j < len; j++) {
    const ko = base + j * d;
    let s = 0;
    for (let i = 0; i < d; i++) s += (q[qo + i] as number) * (kc[ko + i] as number);
    s = cap(s * scale, softcap);
    sc[j] = s;
    // Stryker disable next-line EqualityOperator: a score equal to max leaves max unchanged
    if (s > max) max = s;
  }
  let sum = 0;
  for (let j = lo; j < len; j++) {
    const e = Math.exp((sc[j] as number) - max);
    sc[j] = e;
    sum += e;
  }
  const a = acc;
  a.fill(0, 0, d);
  for (let j = lo; j < len; j++) {
    const p = (sc[j] as number) / sum;
    const vo = base + j * d;
    // Stryker disable next-line EqualityOperator: a[d] is never read: every call zeroes a[0..d) before accumulating and copies out only a[0..d)
    for (let i = 0; i < d; i++) a[i] = (a[i] as number) + p * (vc[vo + i] as number);
  }
  for (let i = 0; i < d; i++) out[qo + i] = a[i] as number;
}

/**
 * The SIMD form of one (row, head): scores and the weighted sum of V in WebAssembly (float32 lanes), the
 * softmax in between in float64. Chosen by where the buffers live, never by n, so it is batch-invariant too.
 */
function attendOneWasm(k: WasmKernels, q: Float32Array, kc: Float32Array, vc: Float32Array, shape: AttentionShape, t: number, h: number, out: Float32Array): void {
  const { startPos, heads, kvHeads, headDim: d, capacity, softcap } = shape;
  const lo = firstKey(shape, t);
  const len = startPos + t + 1 - lo;
  const base = (Math.floor(h / (heads / kvHeads)) * capacity + lo) * d * 4;
  const qo = (t * heads + h) * d * 4;
  const sPtr = k.scratch(len * 4);
  k.fn.attn_scores(q.byteOffset + qo, kc.byteOffset + base, sPtr, len, d, Math.fround(shape.scale ?? 1 / Math.sqrt(d)));
  const s = k.viewF32(sPtr, len);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: cap(s, undefined) is the identity, so the loop without a softcap changes nothing; s is a view of len floats, so writing s[len] stores nothing
  if (softcap !== undefined) for (let j = 0; j < len; j++) s[j] = cap(s[j] as number, softcap);
  let max = -Infinity;
  // Stryker disable next-line EqualityOperator: s[len] is past the view (undefined, never > max), and a score equal to max leaves max unchanged
  for (let j = 0; j < len; j++) if ((s[j] as number) > max) max = s[j] as number;
  let sum = 0;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: attention() already grew scores to startPos + n ≥ len entries, so the buffer always fits and reallocating it only swaps in another one that fits
  const e = scores.length >= len ? scores : (scores = new Float64Array(2 * len));
  for (let j = 0; j < len; j++) {
    const v = Math.exp((s[j] as number) - max);
    e[j] = v;
    sum += v;
  }
  // Stryker disable next-line EqualityOperator: s is a view of len floats, so writing s[len] stores nothing
  for (let j = 0; j < len; j++) s[j] = (e[j] as number) / sum;
  k.fn.attn_wsum(sPtr, vc.byteOffset + base, out.byteOffset + qo, len, d);
}
