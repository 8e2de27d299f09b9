import type { Backend, WeightMatrix } from '../types.js';
import { attention, kvStore } from './attention.js';
import { add, addBias, swiglu } from './elementwise.js';
import { embed, matmul } from './matmul.js';
import { rmsnorm } from './norm.js';
import { rope } from './rope.js';

export { attention, kvStore } from './attention.js';
export { decodeBlockRow, ROW_DECODERS } from './blocks.js';
export { add, addBias, swiglu } from './elementwise.js';
export { embed, matmul, matvec } from './matmul.js';
export { rmsnorm } from './norm.js';
export { rope } from './rope.js';
export { softmax } from './softmax.js';

/** The portable backend: Float32Array buffers, kernels in plain TypeScript, one thread. */
export const cpuBackend: Backend<Float32Array, WeightMatrix> = {
  name: 'cpu',
  alloc: (length) => new Float32Array(length),
  upload: (data) => Float32Array.from(data),
  read: (buf, offset, length) => buf.subarray(offset, offset + length),
  readAsync: (buf, offset, length) => Promise.resolve(buf.slice(offset, offset + length)),
  copy: (src, srcOffset, dst, dstOffset, length) => dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset),
  prepareWeight: (w) => w,
  matmul: (w, x, n, out) => void matmul(w, x, n, out),
  embed: (table, tokens, out) => void embed(table, tokens, out),
  rmsnorm: (x, weight, eps, n, dim, out) => void rmsnorm(x, weight, eps, n, dim, out),
  addBias: (x, bias, n, dim) => void addBias(x, bias, n, dim),
  add: (a, b, length, out) => void add(a, b, length, out),
  swiglu: (gate, up, length, out) => void swiglu(gate, up, length, out),
  rope: (x, n, heads, headDim, startPos, theta) => void rope(x, n, heads, headDim, startPos, theta),
  kvStore: (cache, src, n, kvHeads, headDim, startPos, capacity) => void kvStore(cache, src, n, kvHeads, headDim, startPos, capacity),
  attention: (q, k, v, shape, out) => void attention(q, k, v, shape, out),
};
