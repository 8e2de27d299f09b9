import { WDECODE } from './wgsl-quant.js';

/**
 * WGSL products out[t, r] = Σ_c W[r, c] · x[t, c]. Parameters (uniform `P`, u32 words): 0 rows, 1 cols,
 * 2 n, 15 workgroups along x (for grids wider than 65,535). Bindings: 0 P, 1 wq (weight words), 2 x, 3 out.
 */

const HEADER = /* wgsl */ `
@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
@group(0) @binding(1) var<storage, read> wq: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<private> P_COLS: u32;
`;

/** Rows of x a matvec call takes at once (a longer n goes to the tiled kernel). */
export const MATVEC_MAX_N = 8;
/** Weight rows per matvec workgroup and threads per row (256 threads in all). */
export const MATVEC_ROWS = 8;
const MATVEC_LANES = 32;

/**
 * Matrix-vector products for decoding: a workgroup of 256 threads takes 8 weight rows, 32 threads per row
 * striding over the columns (consecutive threads read consecutive columns), then a 5-step tree reduction
 * per x row t < n in workgroup memory.
 */
function matvecShader(dtype: string): string {
  return /* wgsl */ `${HEADER}${WDECODE[dtype] ?? ''}
var<workgroup> red: array<f32, ${MATVEC_ROWS * MATVEC_LANES * MATVEC_MAX_N}>;
@compute @workgroup_size(${MATVEC_ROWS * MATVEC_LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rows = P[0].x; P_COLS = P[0].y; let n = P[0].z;
  let lane = lid % ${MATVEC_LANES}u;
  let r = (wid.y * P[3].w + wid.x) * ${MATVEC_ROWS}u + lid / ${MATVEC_LANES}u;
  var acc: array<f32, ${MATVEC_MAX_N}>;
  if (r < rows) {
    for (var c = lane; c < P_COLS; c += ${MATVEC_LANES}u) {
      let w = wload(r, c);
      for (var t = 0u; t < n; t++) { acc[t] += w * x[t * P_COLS + c]; }
    }
  }
  for (var t = 0u; t < n; t++) { red[t * 256u + lid] = acc[t]; }
  workgroupBarrier();
  for (var s = ${MATVEC_LANES / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var t = 0u; t < n; t++) { red[t * 256u + lid] += red[t * 256u + lid + s]; }
    }
    workgroupBarrier();
  }
  if (r < rows && lane < n) { out[lane * rows + r] = red[lane * 256u + lid - lane]; }
}
`;
}

export interface TileConfig {
  /** Outputs per thread along t (tokens) and r (weight rows); the workgroup is 16×16 threads. */
  readonly tm: number;
  readonly tn: number;
  /** Depth of one shared-memory step along the columns. */
  readonly bk: number;
}

/** 8×4×16 measured fastest on an H200 for f32 and Q4_K at 4096³ (bench/gpu/matmul.ts: 30.8 vs 26.1 TFLOP/s for 8×8×16). */
export const DEFAULT_TILE: TileConfig = { tm: 8, tn: 4, bk: 16 };

/**
 * Tiled product for prefill: a 16×16 workgroup computes a (16·tm) × (16·tn) block of out, staging
 * bk-deep slices of x and W in workgroup memory (k-major) and keeping tm × tn accumulators per thread.
 * Thread (ty, tx) owns rows t0 + ty + 16·i and columns r0 + tx + 16·j, so writes along r are coalesced.
 */
function tiledShader(dtype: string, tile: TileConfig = DEFAULT_TILE): string {
  const { tm, tn, bk } = tile;
  const bm = 16 * tm;
  const bn = 16 * tn;
  return /* wgsl */ `${HEADER}${WDECODE[dtype] ?? ''}
var<workgroup> As: array<f32, ${bk * bm}>;
var<workgroup> Bs: array<f32, ${bk * bn}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rows = P[0].x; P_COLS = P[0].y; let n = P[0].z;
  let t0 = wid.y * ${bm}u;
  let r0 = wid.x * ${bn}u;
  let tx = lid3.x;
  let ty = lid3.y;
  var acc: array<array<f32, ${tn}>, ${tm}>;
  var a: array<f32, ${tm}>;
  var b: array<f32, ${tn}>;
  for (var k0 = 0u; k0 < P[0].y; k0 += ${bk}u) {
    for (var e = lid; e < ${bm * bk}u; e += 256u) {
      let m = e / ${bk}u; let k = e % ${bk}u;
      var v = 0.0;
      if (t0 + m < n && k0 + k < P_COLS) { v = x[(t0 + m) * P_COLS + k0 + k]; }
      As[k * ${bm}u + m] = v;
    }
    for (var e = lid; e < ${bn * bk}u; e += 256u) {
      let m = e / ${bk}u; let k = e % ${bk}u;
      var v = 0.0;
      if (r0 + m < rows && k0 + k < P_COLS) { v = wload(r0 + m, k0 + k); }
      Bs[k * ${bn}u + m] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${bk}u; k++) {
      for (var i = 0u; i < ${tm}u; i++) { a[i] = As[k * ${bm}u + ty + 16u * i]; }
      for (var j = 0u; j < ${tn}u; j++) { b[j] = Bs[k * ${bn}u + tx + 16u * j]; }
      for (var i = 0u; i < ${tm}u; i++) {
        for (var j = 0u; j < ${tn}u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${tm}u; i++) {
    let t = t0 + ty + 16u * i;
    for (var j = 0u; j < ${tn}u; j++) {
      let r = r0 + tx + 16u * j;
      if (t < n && r < rows) { out[t * rows + r] = acc[i][j]; }
    }
  }
}
`;
}

/**
 * Dequantizes whole rows: out[t, c] = W[ids[t], c] (the embedding gather). Bindings: 0 P, 1 wq, 2 ids, 3 out.
 * `picked`: the ids are floats (arg-max picks) read from ids[P3 + t].
 */
function embedShader(dtype: string, picked = false): string {
  const id = picked ? 'u32(ids[P[0].w + i / P_COLS])' : 'ids[i / P_COLS]';
  return /* wgsl */ `
@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
@group(0) @binding(1) var<storage, read> wq: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<${picked ? 'f32' : 'u32'}>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<private> P_COLS: u32;
${WDECODE[dtype] ?? ''}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  P_COLS = P[0].y; let n = P[0].z;
  let i = gid.y * P[3].w * 256u + gid.x;
  if (i < n * P_COLS) { out[i] = wload(${id}, i % P_COLS); }
}
`;
}

/** Workgroup memory of the tiled product with `tile`: As and Bs, bk·16·(tm + tn) floats. */
function tiledBytes(tile: TileConfig): number {
  return 4 * tile.bk * 16 * (tile.tm + tile.tn);
}

/** The product shader generators, by kernel (text builders; the backend's contract covers what they compute). */
export const MATMUL_WGSL = { matvec: matvecShader, tiled: tiledShader, embed: embedShader, tiledBytes } as const;
