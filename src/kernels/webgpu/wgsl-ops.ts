/**
 * WGSL sources of the non-product kernels. Every shader reads its parameters from the uniform `P`
 * (16 u32 words; floats are bit-cast) and, for flat 1-D grids, the element index is
 * gid.y · (workgroups along x) · 256 + gid.x, so grids wider than 65,535 workgroups fold into y.
 */

const UNIFORM = '@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;';
const FLAT = 'let i = gid.y * P[3].w * 256u + gid.x;';

/** x[i] ← x[i] + y[i] for i < P0. */
export const ADD = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  if (i < P[0].x) { x[i] = x[i] + y[i]; }
}
`;

/** x[i] ← silu(g)·u where (g, u) = (x[i], y[i]) when P1 = 0, else (y[i], x[i]); i < P0. */
export const SWIGLU = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  if (i < P[0].x) {
    let xg = P[0].y == 0u;
    let g = select(y[i], x[i], xg);
    let u = select(x[i], y[i], xg);
    x[i] = (g / (1.0 + exp(-g))) * u;
  }
}
`;

/** x[t, c] ← x[t, c] + bias[c]; P0 = n·dim, P1 = dim. */
export const ADD_BIAS = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  if (i < P[0].x) { x[i] = x[i] + bias[i % P[0].y]; }
}
`;

/** cache[(g·cap + sp + t)·d + i] ← src[(t·K + g)·d + i]; P0 n, P1 K, P2 d, P3 sp, P4 cap. */
export const KV_STORE = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> cache: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  let n = P[0].x; let K = P[0].y; let d = P[0].z; let sp = P[0].w; let cap = P[1].x;
  if (i < n * K * d) {
    let t = i / (K * d);
    let g = (i / d) % K;
    cache[(g * cap + sp + t) * d + i % d] = src[i];
  }
}
`;

/**
 * Pair j of `row` of buf rotated in place (rotate_half) by the position's cos/sin: row = ⌊i/half⌋ runs over
 * [n, rows] with t = ⌊row/rows⌋; leaves the rotated values in `ra`, `rb` (ROPE_KV also stores them in the cache).
 */
function rotatePair(buf: string, rows: string): string {
  return `let t = row / ${rows};
    let o = row * d;
    let c = cs[(sp + t) * half + j];
    let s = cs[sinOff + (sp + t) * half + j];
    let a = ${buf}[o + j];
    let b = ${buf}[o + j + half];
    let ra = a * c - b * s;
    let rb = b * c + a * s;
    ${buf}[o + j] = ra;
    ${buf}[o + j + half] = rb;`;
}

/**
 * Rotary embedding (rotate_half) of x[n, heads, d] in place with host-computed float32 cos/sin tables
 * (cs[p·half + j] = cos, cs[P4 + p·half + j] = sin), as src/kernels/cpu/rope.ts; P0 n, P1 heads, P2 d, P3 startPos.
 */
export const ROPE = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  let n = P[0].x; let heads = P[0].y; let d = P[0].z; let sp = P[0].w; let sinOff = P[1].x;
  let half = d / 2u;
  if (i < n * heads * half) {
    let j = i % half;
    let row = i / half;
    ${rotatePair('x', 'heads')}
  }
}
`;

/**
 * RoPE and the key-cache write in one pass: q [n, heads, d] and k [n, K, d] rotated in place as ROPE does, and
 * each rotated k row also stored at position sp + t of the `[K][cap][d]` cache kc (as KV_STORE does).
 * P0 n, P1 heads, P2 d, P3 sp, P4 sinOff, P5 K, P6 cap; the grid covers n·max(heads, K)·d/2 pairs.
 */
export const ROPE_KV = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k: array<f32>;
@group(0) @binding(3) var<storage, read_write> kc: array<f32>;
@group(0) @binding(4) var<storage, read> cs: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  let n = P[0].x; let heads = P[0].y; let d = P[0].z; let sp = P[0].w; let sinOff = P[1].x; let K = P[1].y; let cap = P[1].z;
  let half = d / 2u;
  let j = i % half;
  let row = i / half;
  if (i < n * heads * half) {
    ${rotatePair('q', 'heads')}
  }
  if (i < n * K * half) {
    let g = row % K;
    ${rotatePair('k', 'K')}
    let dst = (g * cap + sp + t) * d;
    kc[dst + j] = ra;
    kc[dst + j + half] = rb;
  }
}
`;

/**
 * `fn name(v, lid) -> f32`: a tree reduction by `combine` over its own workgroup array of `size` floats; every
 * lane gets the result. A kernel with two reductions gives each its own array: with one shared array, Dawn's
 * OpenGL ES backend on Mesa 22 llvmpipe lets a lane read red[0] after the trailing barrier, when faster lanes
 * have already written the next reduction's inputs there (attention and softmax came out wrong on 9+ lanes).
 */
function treeReduce(name: string, size: number, combine: (a: string, b: string) => string, threads = size): string {
  const buf = `${name}_buf`;
  const store = `${buf}[lid] = v;`;
  return /* wgsl */ `
var<workgroup> ${buf}: array<f32, ${size}>;
fn ${name}(v: f32, lid: u32) -> f32 {
  ${threads > size ? `if (lid < ${size}u) { ${store} }` : store}
  workgroupBarrier();
  for (var s = ${size / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { ${buf}[lid] = ${combine(`${buf}[lid]`, `${buf}[lid + s]`)}; }
    workgroupBarrier();
  }
  let r = ${buf}[0];
  workgroupBarrier();
  return r;
}
`;
}

const ROW_REDUCE = `${treeReduce('reduce_sum', 256, (a, b) => `${a} + ${b}`)}${treeReduce('reduce_max', 256, (a, b) => `max(${a}, ${b})`)}`;

/** RMSNorm of row wid (one workgroup per row): P0 n, P1 dim, P2 eps bits. `inPlace` writes back into x. */
function rmsnormShader(inPlace: boolean): string {
  const io = inPlace
    ? '@group(0) @binding(2) var<storage, read_write> x: array<f32>;'
    : '@group(0) @binding(2) var<storage, read> x: array<f32>;\n@group(0) @binding(3) var<storage, read_write> out: array<f32>;';
  const dst = inPlace ? 'x' : 'out';
  return /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> w: array<f32>;
${io}
${ROW_REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let dim = P[0].y; let eps = bitcast<f32>(P[0].z);
  let o = (wid.y * P[3].w + wid.x) * dim;
  if (wid.y * P[3].w + wid.x >= P[0].x) { return; }
  var ss = 0.0;
  for (var i = lid; i < dim; i += 256u) { let v = x[o + i]; ss += v * v; }
  let r = 1.0 / sqrt(reduce_sum(ss, lid) / f32(dim) + eps);
  for (var i = lid; i < dim; i += 256u) { ${dst}[o + i] = w[i] * (x[o + i] * r); }
}
`;
}

/** Softmax of each row of x[n, dim] in place (one workgroup per row): P0 n, P1 dim. */
export const SOFTMAX = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
${ROW_REDUCE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let dim = P[0].y;
  let row = wid.y * P[3].w + wid.x;
  if (row >= P[0].x) { return; }
  let o = row * dim;
  var m = -3.0e38;
  for (var i = lid; i < dim; i += 256u) { m = max(m, x[o + i]); }
  m = reduce_max(m, lid);
  var s = 0.0;
  for (var i = lid; i < dim; i += 256u) { s += exp(x[o + i] - m); }
  s = reduce_sum(s, lid);
  for (var i = lid; i < dim; i += 256u) { x[o + i] = exp(x[o + i] - m) / s; }
}
`;

/**
 * Arg-max of each row of x[n, dim] (one workgroup per row) into out[row] as a float (exact for dim ≤ 2²⁴):
 * the lowest index of the largest value, as src/model/sampling.ts `argmax` (NaN and −∞ never chosen; 0 when
 * nothing beats −∞). Each lane scans its columns in ascending order; the tree keeps the larger value and, on
 * a tie, the lower index. P0 n, P1 dim, P2 the offset of out[0].
 */
export const ARGMAX = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> am_v: array<f32, 256>;
var<workgroup> am_i: array<u32, 256>;
const NONE = 0xffffffffu;
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return i != NONE && (bi == NONE || v > bv || (v == bv && i < bi));
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let dim = P[0].y;
  let row = wid.y * P[3].w + wid.x;
  if (row >= P[0].x) { return; }
  let o = row * dim;
  var bv = 0.0;
  var bi = NONE;
  for (var i = lid; i < dim; i += 256u) {
    let v = x[o + i];
    if (v >= -3.4028234e38 && (bi == NONE || v > bv)) { bv = v; bi = i; }
  }
  am_v[lid] = bv;
  am_i[lid] = bi;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s && better(am_v[lid + s], am_i[lid + s], am_v[lid], am_i[lid])) { am_v[lid] = am_v[lid + s]; am_i[lid] = am_i[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[P[0].z + row] = f32(select(am_i[0], 0u, am_i[0] == NONE)); }
}
`;

/** RMSNorm shader text, out of place or in place. */
export const RMSNORM_WGSL = { shader: rmsnormShader } as const;

/**
 * The reduction builder, for the other reduction kernels: `threads` > `size` reduces the values of the first
 * `size` threads (attention's first group), and every thread gets the result.
 */
export const WGSL_REDUCE = { tree: treeReduce } as const;
