import { WGSL_REDUCE } from './wgsl-ops.js';

/**
 * Causal grouped-query attention with an online softmax (flash-attention style): one workgroup of 256
 * threads per (query head h, query row t) — dispatched as (heads, n) — walks the cache positions in tiles
 * of 64. The threads form 4 groups of 64 lanes: per tile lane j scores position j0 + j, each group taking a
 * quarter of the head's dimensions (partial dots summed in group order); the running max m and sum l are
 * rescaled by exp(m_old − m_new); then each group sums p·v over every 4th position of the tile for the
 * dimensions lane + 64k, and group 0 adds the four partial sums (in group order) to its running output.
 * Four groups keep four times fewer dependent cache loads in flight per thread than one, which is what a
 * decode step waits on. KV head g = ⌊h / (heads/kvHeads)⌋.
 * Parameters: P0 n, P1 startPos, P2 heads, P3 kvHeads, P4 headDim (≤ 256), P5 capacity, P6 scale bits.
 */
const ATTN_TILE = 64;
const ATTN_THREADS = 256;
export const ATTN_MAX_HEAD_DIM = 256;

/**
 * The online-softmax walk over cache positions 0..len−1 for one query head, its query in `qs`: key element i
 * of position j is `kAt(j, i)`, value element `vAt(j, i)`; leaves acc[k] (group 0) and l for the output write.
 */
function onlineSoftmax(kAt: (j: string, i: string) => string, vAt: (j: string, i: string) => string): string {
  const per = ATTN_MAX_HEAD_DIM / ATTN_TILE;
  return /* wgsl */ `
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, ${per}>;
  var mine: array<f32, ${per}>;
  let lane = lid % ${ATTN_TILE}u;
  let grp = lid / ${ATTN_TILE}u;
  let dq = (d + 3u) / 4u;
  for (var j0 = 0u; j0 < len; j0 += ${ATTN_TILE}u) {
    let j = j0 + lane;
    var part = 0.0;
    if (j < len) {
      let i1 = min(d, (grp + 1u) * dq);
      for (var i = grp * dq; i < i1; i++) { part += qs[i] * ${kAt('j', 'i')}; }
    }
    pp[lid] = part;
    workgroupBarrier();
    var s = -3.0e38;
    if (j < len) { s = (((pp[lane] + pp[${ATTN_TILE}u + lane]) + pp[${2 * ATTN_TILE}u + lane]) + pp[${3 * ATTN_TILE}u + lane]) * scale; }
    let mNew = max(m, reduce_max(s, lid));
    var p = 0.0;
    if (j < len) { p = exp(s - mNew); }
    if (grp == 0u) { ps[lane] = p; }
    let alpha = exp(m - mNew);
    l = l * alpha + reduce_sum(p, lid);
    let cnt = min(${ATTN_TILE}u, len - j0);
    for (var k = 0u; k < ${per}u; k++) {
      let i = lane + k * ${ATTN_TILE}u;
      var a = 0.0;
      if (i < d) {
        for (var jj = grp; jj < cnt; jj += 4u) { a += ps[jj] * ${vAt('j0 + jj', 'i')}; }
      }
      mine[k] = a;
      if (grp > 0u) { pv[(grp - 1u) * ${ATTN_MAX_HEAD_DIM}u + i] = a; }
    }
    workgroupBarrier();
    if (grp == 0u) {
      for (var k = 0u; k < ${per}u; k++) {
        let i = lane + k * ${ATTN_TILE}u;
        if (i < d) { acc[k] = acc[k] * alpha + (((mine[k] + pv[i]) + pv[${ATTN_MAX_HEAD_DIM}u + i]) + pv[${2 * ATTN_MAX_HEAD_DIM}u + i]); }
      }
    }
    m = mNew;
    workgroupBarrier();
  }`;
}

const SHARED = /* wgsl */ `
var<workgroup> qs: array<f32, ${ATTN_MAX_HEAD_DIM}>;
var<workgroup> ps: array<f32, ${ATTN_TILE}>;
var<workgroup> pp: array<f32, ${ATTN_THREADS}>;
var<workgroup> pv: array<f32, ${3 * ATTN_MAX_HEAD_DIM}>;
${WGSL_REDUCE.tree('reduce_max', ATTN_TILE, (a, b) => `max(${a}, ${b})`, ATTN_THREADS)}
${WGSL_REDUCE.tree('reduce_sum', ATTN_TILE, (a, b) => `${a} + ${b}`, ATTN_THREADS)}`;

const WRITE_OUT = /* wgsl */ `
  if (grp == 0u) {
    for (var k = 0u; k < ${ATTN_MAX_HEAD_DIM / ATTN_TILE}u; k++) {
      let i = lane + k * ${ATTN_TILE}u;
      if (i < d) { out[qo + i] = acc[k] / l; }
    }
  }`;

export const ATTENTION = /* wgsl */ `
@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
${SHARED}
@compute @workgroup_size(${ATTN_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sp = P[0].y; let heads = P[0].z; let K = P[0].w; let d = P[1].x; let cap = P[1].y;
  let scale = bitcast<f32>(P[1].z);
  let h = wid.x;
  let t = wid.y;
  let g = h / (heads / K);
  let base = g * cap * d;
  let qo = (t * heads + h) * d;
  let len = sp + t + 1u;
  for (var i = lid; i < d; i += ${ATTN_THREADS}u) { qs[i] = q[qo + i]; }
  workgroupBarrier();
  ${onlineSoftmax((j, i) => `kc[base + (${j}) * d + ${i}]`, (j, i) => `vc[base + (${j}) * d + ${i}]`)}
  ${WRITE_OUT}
}
`;

/** Most rows one `attendRows` dispatch takes: parameter words 16..63 hold one place each. */
export const ATTEND_ROWS_MAX = 48;

/**
 * One decode row's whole attention step in one dispatch (Backend.attendRow): row `row` of q [·, heads, d],
 * k and v [·, K, d] at position sp of a `[K][cap][d]` cache. Workgroup h rotates its query head and the new
 * key of its KV head g into workgroup memory (rotate_half with the host cos/sin table, as ROPE_KV), takes
 * positions j < sp from the cache and position sp from the rotated key and the value row directly, and the
 * first query head of each group also stores that key and value at position sp (no other workgroup reads
 * position sp from the cache, so there is no race). q and k are left as they were.
 * P0 row, P1 sp, P2 heads, P3 K, P4 d, P5 cap, P6 scale bits, P7 sin offset of the table.
 * `rows` (Backend.attendRows): workgroup (h, r) does that for row P0 + r, whose cache is slot `slot` of the
 * slot set (P8: floats per slot) at position sp, both packed in word 16 + r as slot << 24 | sp. The float
 * arithmetic is the one-row kernel's, so each row's bits are those of its own attendRow.
 */
function attendRowKernel(rows: boolean): string {
  const where = rows
    ? `let r = wid.y; let row = P[0].x + r; let pl = P[4u + r / 4u][r % 4u]; let sp = pl & 0xFFFFFFu;
  let base = (pl >> 24u) * P[2].x + g * cap * d;`
    : 'let row = P[0].x; let sp = P[0].y; let base = g * cap * d;';
  return /* wgsl */ `
@group(0) @binding(0) var<uniform> P: array<vec4<u32>, ${rows ? 16 : 4}>;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kr: array<f32>;
@group(0) @binding(3) var<storage, read> vr: array<f32>;
@group(0) @binding(4) var<storage, read_write> kc: array<f32>;
@group(0) @binding(5) var<storage, read_write> vc: array<f32>;
@group(0) @binding(6) var<storage, read> cs: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
${SHARED}
var<workgroup> kn: array<f32, ${ATTN_MAX_HEAD_DIM}>;
var<workgroup> vn: array<f32, ${ATTN_MAX_HEAD_DIM}>;
@compute @workgroup_size(${ATTN_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let heads = P[0].z; let K = P[0].w; let d = P[1].x; let cap = P[1].y;
  let scale = bitcast<f32>(P[1].z); let sinOff = P[1].w;
  let h = wid.x;
  let g = h / (heads / K);
  let owner = h % (heads / K) == 0u;
  ${where}
  let qo = (row * heads + h) * d;
  let ko = (row * K + g) * d;
  let half = d / 2u;
  for (var j = lid; j < half; j += ${ATTN_THREADS}u) {
    let c = cs[sp * half + j];
    let s = cs[sinOff + sp * half + j];
    let a = q[qo + j];
    let b = q[qo + j + half];
    qs[j] = a * c - b * s;
    qs[j + half] = b * c + a * s;
    let ka = kr[ko + j];
    let kb = kr[ko + j + half];
    let ra = ka * c - kb * s;
    let rb = kb * c + ka * s;
    kn[j] = ra;
    kn[j + half] = rb;
    if (owner) { kc[base + sp * d + j] = ra; kc[base + sp * d + j + half] = rb; }
  }
  for (var i = lid; i < d; i += ${ATTN_THREADS}u) {
    let x = vr[ko + i];
    vn[i] = x;
    if (owner) { vc[base + sp * d + i] = x; }
  }
  workgroupBarrier();
  let len = sp + 1u;
  ${onlineSoftmax((j, i) => `select(kc[base + (${j}) * d + ${i}], kn[${i}], (${j}) == sp)`, (j, i) => `select(vc[base + (${j}) * d + ${i}], vn[${i}], (${j}) == sp)`)}
  ${WRITE_OUT}
}
`;
}

export const ATTEND_ROW = attendRowKernel(false);
export const ATTEND_ROWS = attendRowKernel(true);
