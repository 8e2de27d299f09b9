import { WGSL_REDUCE } from './wgsl-ops.js';

/**
 * Causal grouped-query attention with an online softmax (flash-attention style): one workgroup of 64
 * threads per (query head h, query row t) — dispatched as (heads, n) — walks the cache positions in tiles
 * of 64; per tile each thread scores one position, the running max m and sum l are rescaled by
 * exp(m_old − m_new), and each thread accumulates its ⌈d/64⌉ output dimensions. KV head g = ⌊h / (heads/kvHeads)⌋.
 * Parameters: P0 n, P1 startPos, P2 heads, P3 kvHeads, P4 headDim (≤ 256), P5 capacity, P6 scale bits.
 */
const ATTN_TILE = 64;
export const ATTN_MAX_HEAD_DIM = 256;

export const ATTENTION = /* wgsl */ `
@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
var<workgroup> qs: array<f32, ${ATTN_MAX_HEAD_DIM}>;
var<workgroup> ps: array<f32, ${ATTN_TILE}>;

${WGSL_REDUCE.tree('reduce_max', ATTN_TILE, (a, b) => `max(${a}, ${b})`)}
${WGSL_REDUCE.tree('reduce_sum', ATTN_TILE, (a, b) => `${a} + ${b}`)}
@compute @workgroup_size(${ATTN_TILE})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sp = P[0].y; let heads = P[0].z; let K = P[0].w; let d = P[1].x; let cap = P[1].y;
  let scale = bitcast<f32>(P[1].z);
  let h = wid.x;
  let t = wid.y;
  let g = h / (heads / K);
  let base = g * cap * d;
  let qo = (t * heads + h) * d;
  let len = sp + t + 1u;
  for (var i = lid; i < d; i += ${ATTN_TILE}u) { qs[i] = q[qo + i]; }
  workgroupBarrier();
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, ${ATTN_MAX_HEAD_DIM / ATTN_TILE}>;
  for (var j0 = 0u; j0 < len; j0 += ${ATTN_TILE}u) {
    let j = j0 + lid;
    var s = -3.0e38;
    if (j < len) {
      var dot = 0.0;
      for (var i = 0u; i < d; i++) { dot += qs[i] * kc[base + j * d + i]; }
      s = dot * scale;
    }
    let mNew = max(m, reduce_max(s, lid));
    var p = 0.0;
    if (j < len) { p = exp(s - mNew); }
    ps[lid] = p;
    let alpha = exp(m - mNew);
    l = l * alpha + reduce_sum(p, lid);
    let cnt = min(${ATTN_TILE}u, len - j0);
    for (var k = 0u; k < ${ATTN_MAX_HEAD_DIM / ATTN_TILE}u; k++) {
      let i = lid + k * ${ATTN_TILE}u;
      if (i < d) {
        var a = acc[k] * alpha;
        for (var jj = 0u; jj < cnt; jj++) { a += ps[jj] * vc[base + (j0 + jj) * d + i]; }
        acc[k] = a;
      }
    }
    m = mNew;
    workgroupBarrier();
  }
  for (var k = 0u; k < ${ATTN_MAX_HEAD_DIM / ATTN_TILE}u; k++) {
    let i = lid + k * ${ATTN_TILE}u;
    if (i < d) { out[qo + i] = acc[k] / l; }
  }
}
`;
