import { WGSL_REDUCE } from './wgsl-ops.js';
import { WDECODE } from './wgsl-quant.js';

/**
 * WGSL sources of the LoRA/QLoRA training-step kernels (host side: train-ops.ts). As every kernel here, they
 * read their parameters from the uniform `P` (16 u32 words, floats bit-cast); word 15 (P[3].w) is the number
 * of workgroups along x, so a flat element index is gid.y · P[3].w · 256 + gid.x and a per-row (or per-tile)
 * workgroup finds its row as wid.y · P[3].w + wid.x: every grid folds past 65,535 workgroups.
 */

const UNIFORM = '@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;';
const FLAT = 'let i = gid.y * P[3].w * 256u + gid.x;';
const SUM = (a: string, b: string): string => `${a} + ${b}`;
const REDUCE_SUM = WGSL_REDUCE.tree('reduce_sum', 256, SUM);
const REDUCE_MAX = WGSL_REDUCE.tree('reduce_max', 256, (a, b) => `max(${a}, ${b})`);

/** Element decoders `wload(r, c)` over binding `wq` of every weight dtype the training products read stored (NF4 included). */
export const TRAIN_WDECODE: Readonly<Record<string, string>> = WDECODE;

/** A tile of the training products: a 16×16 workgroup computes (16·tm) × (16·tn) outputs, bk deep per step. */
export interface TrainTile {
  readonly tm: number;
  readonly tn: number;
  readonly bk: number;
}

/**
 * C[i, j] = Σ_k A(i, k)·B(k, j) as one of the two products of a linear layer's backward pass. `aAlongK`: A is
 * contiguous along k (else along i), which decides how the staging threads walk it so that neighbouring
 * threads read neighbouring words; B is contiguous along j. `store` writes `v` = C[gi, gj].
 */
interface ProductSpec {
  readonly bindings: string;
  readonly prelude: string;
  readonly a: (i: string, k: string) => string;
  readonly aAlongK: boolean;
  readonly b: (k: string, j: string) => string;
  readonly store: string;
}

/** Per-thread staging of one bk-deep slice: the indices, the guarded loads into registers, the stores into shared memory. */
function staging(name: string, span: number, bk: number, alongK: boolean, stride: number, origin: string, limit: string, load: (m: string, k: string) => string): { index: string; load: (k0: string) => string; store: string } {
  const per = (span * bk) / 256;
  const ls = Array.from({ length: per }, (_, l) => l);
  const m = (l: number): string => (alongK ? `(lid + ${256 * l}u) / ${bk}u` : `(lid + ${256 * l}u) % ${span}u`);
  const k = (l: number): string => (alongK ? `(lid + ${256 * l}u) % ${bk}u` : `(lid + ${256 * l}u) / ${span}u`);
  const index = ls.map((l) => `let ${name}m${l} = ${m(l)}; let ${name}k${l} = ${k(l)};`).join('\n  ');
  const loadAt = (k0: string): string => ls.map((l) => {
    const [mm, kk] = [`${origin} + ${name}m${l}`, `${k0} + ${name}k${l}`];
    return `${name}r[${l}] = 0.0; if (${mm} < ${limit} && ${kk} < K) { ${name}r[${l}] = ${load(mm, kk)}; }`;
  }).join('\n    ');
  const store = ls.map((l) => `${name}s[${name}k${l} * ${stride}u + ${name}m${l}] = ${name}r[${l}];`).join('\n    ');
  return { index, load: loadAt, store };
}

/** The register-tile step of one k: tm values of A and tn of B from shared memory, tm·tn fmas. */
function tileStep(tm: number, tn: number, sa: number, sb: number): string {
  const lines = [
    ...Array.from({ length: tm }, (_, i) => `let a${i} = As[k * ${sa}u + ty + ${16 * i}u];`),
    ...Array.from({ length: tn }, (_, j) => `let b${j} = Bs[k * ${sb}u + tx + ${16 * j}u];`),
  ];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) lines.push(`acc[${i * tn + j}] = fma(a${i}, b${j}, acc[${i * tn + j}]);`);
  return lines.join('\n      ');
}

/** The guarded epilogue: thread (ty, tx) owns C rows i0 + ty + 16·i and columns j0 + tx + 16·j. */
function tileWrites(tm: number, tn: number, store: string): string {
  const lines: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) lines.push(`{ let gi = i0 + ty + ${16 * i}u; let gj = j0 + tx + ${16 * j}u; let v = acc[${i * tn + j}]; if (gi < I && gj < J) { ${store} } }`);
  }
  return lines.join('\n  ');
}

/**
 * The tiled product: A and B slices staged k-major in workgroup memory (A's rows padded by one float against
 * bank conflicts on its transposed stores), the next slice loaded into registers while the current one is
 * multiplied, tm × tn accumulators per thread. P0 I, P1 J, P2 K, P3 tiles along j, P4 kernel-specific.
 */
function tiledProduct(spec: ProductSpec, tile: TrainTile): string {
  const { tm, tn, bk } = tile;
  const [bm, bn] = [16 * tm, 16 * tn];
  const A = staging('A', bm, bk, spec.aAlongK, bm + 1, 'i0', 'I', spec.a);
  const B = staging('B', bn, bk, false, bn, 'j0', 'J', (j, k) => spec.b(k, j));
  return /* wgsl */ `${UNIFORM}
${spec.bindings}
var<private> P_COLS: u32;
${spec.prelude}
var<workgroup> As: array<f32, ${bk * (bm + 1)}>;
var<workgroup> Bs: array<f32, ${bk * bn}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let I = P[0].x; let J = P[0].y; let K = P[0].z; let gx = P[0].w; P_COLS = J;
  let tile = wid.y * P[3].w + wid.x;
  if (tile >= gx * ((I + ${bm - 1}u) / ${bm}u)) { return; }
  let i0 = (tile / gx) * ${bm}u;
  let j0 = (tile % gx) * ${bn}u;
  let tx = lid % 16u;
  let ty = lid / 16u;
  var acc: array<f32, ${tm * tn}>;
  var Ar: array<f32, ${(bm * bk) / 256}>;
  var Br: array<f32, ${(bn * bk) / 256}>;
  ${A.index}
  ${B.index}
  ${A.load('0u')}
  ${B.load('0u')}
  for (var k0 = 0u; k0 < K; k0 += ${bk}u) {
    workgroupBarrier();
    ${A.store}
    ${B.store}
    workgroupBarrier();
    if (k0 + ${bk}u < K) {
      let k1 = k0 + ${bk}u;
      ${A.load('k1')}
      ${B.load('k1')}
    }
    for (var k = 0u; k < ${bk}u; k++) {
      ${tileStep(tm, tn, bm + 1, bn)}
    }
  }
  ${tileWrites(tm, tn, spec.store)}
}
`;
}

/** Workgroup memory of a product tile: the padded A slice and the B slice. */
function tileBytes(tile: TrainTile): number {
  return 4 * tile.bk * (16 * tile.tm + 1 + 16 * tile.tn);
}

/**
 * dx[t, c] (+)= Σ_r dy[t, r]·W[r, c]: I = n, J = cols, K = rows; W decoded in-kernel by `wload`. P4 ≠ 0
 * accumulates into dx. Bindings: 1 wq, 2 dy, 3 dx.
 */
function backInputShader(dtype: string, tile: TrainTile): string {
  return tiledProduct({
    bindings: `@group(0) @binding(1) var<storage, read> wq: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;`,
    prelude: TRAIN_WDECODE[dtype] ?? '',
    a: (i, k) => `dy[(${i}) * K + ${k}]`,
    aAlongK: true,
    b: (k, j) => `wload(${k}, ${j})`,
    store: 'let o = gi * J + gj; if (P[1].x != 0u) { dx[o] = dx[o] + v; } else { dx[o] = v; }',
  }, tile);
}

/** dw[r, c] += scale·Σ_t dy[t, r]·x[t, c]: I = rows, J = cols, K = n; P4 scale bits. Bindings: 1 dy, 2 x, 3 dw. */
function backWeightShader(tile: TrainTile): string {
  return tiledProduct({
    bindings: `@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;`,
    prelude: '',
    a: (i, k) => `dy[(${k}) * I + ${i}]`,
    aAlongK: false,
    b: (k, j) => `x[(${k}) * J + ${j}]`,
    store: 'let o = gi * J + gj; dw[o] = dw[o] + bitcast<f32>(P[1].x) * v;',
  }, tile);
}

/** y[i] ← y[i] + s·x[i]; P0 length, P1 s bits. */
const AXPY = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  if (i < P[0].x) { y[i] = y[i] + bitcast<f32>(P[0].y) * x[i]; }
}
`;

/** SwiGLU backward (out = silu(g)·u): dGate = d·u·σ(1 + g(1 − σ)), dUp = d·g·σ, written; P0 length. */
const SWIGLU_BACK = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read> dOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> dGate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dUp: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  if (i < P[0].x) {
    let g = gate[i];
    let s = 1.0 / (1.0 + exp(-g));
    let d = dOut[i];
    dUp[i] = d * g * s;
    dGate[i] = d * up[i] * s * (1.0 + g * (1.0 - s));
  }
}
`;

/**
 * RoPE (rotate_half) of x[n, heads, d] in place, row t at position pos[t], from a rope-table.ts table
 * (cos at p·half + j, sin at P3 + p·half + j); P4 ≠ 0 rotates by −angle. P0 n, P1 heads, P2 d, P3 sinOffset.
 */
const ROPE_ROWS = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  let n = P[0].x; let heads = P[0].y; let d = P[0].z;
  let half = d / 2u;
  if (i < n * heads * half) {
    let j = i % half;
    let row = i / half;
    let p = pos[row / heads];
    let c = cs[p * half + j];
    let s = select(1.0, -1.0, P[1].x != 0u) * cs[P[0].w + p * half + j];
    let o = row * d;
    let a = x[o + j];
    let b = x[o + j + half];
    x[o + j] = a * c - b * s;
    x[o + j + half] = b * c + a * s;
  }
}
`;

/**
 * Softmax cross-entropy of row t of logits z[n, V] in place, one workgroup per row: each lane keeps an online
 * (max, Σ exp) over its columns, the lanes' maxima and rescaled sums are reduced, lse = max + log Σ; then
 * z ← (exp(z − lse) − [k = y])·rowWeight[t] and rowLoss[P2 + t] = lse − z_y; an ignored row (y = −100) gets
 * z ← 0 and loss 0. z_y is read before the reductions' barriers, ahead of any lane's overwrite.
 * P0 n, P1 V, P2 lossOffset. Bindings: 1 z, 2 targets (i32), 3 rowWeight, 4 rowLoss.
 */
const CROSS_ENTROPY = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> z: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> rowWeight: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;
${REDUCE_MAX}${REDUCE_SUM}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let V = P[0].y;
  let t = wid.y * P[3].w + wid.x;
  if (t >= P[0].x) { return; }
  let o = t * V;
  var m = bitcast<f32>(0xff7fffffu);
  var s = 0.0;
  for (var k = lid; k < V; k += 256u) {
    let v = z[o + k];
    if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
  }
  let y = targets[t];
  let zy = z[o + min(u32(max(y, 0)), V - 1u)];
  let mx = reduce_max(m, lid);
  let lse = mx + log(reduce_sum(s * exp(m - mx), lid));
  let keep = y != -100;
  let w = rowWeight[t];
  for (var k = lid; k < V; k += 256u) {
    let d = (exp(z[o + k] - lse) - select(0.0, 1.0, i32(k) == y)) * w;
    z[o + k] = select(0.0, d, keep);
  }
  if (lid == 0u) { rowLoss[P[0].z + t] = select(0.0, lse - zy, keep); }
}
`;

/** Sum of squares, first pass: workgroup g of P1 sums x[i]² over i ≡ g·256 + lid (mod P1·256), i < P0, into partials[g]. */
const SUM_SQUARES_PARTIAL = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
${REDUCE_SUM}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.y * P[3].w + wid.x;
  if (g >= P[0].y) { return; }
  var s = 0.0;
  for (var i = g * 256u + lid; i < P[0].x; i += P[0].y * 256u) { let v = x[i]; s = fma(v, v, s); }
  let tot = reduce_sum(s, lid);
  if (lid == 0u) { partials[g] = tot; }
}
`;

/** Sum of squares, second pass (one workgroup): out[P1] = Σ_{g < P0} partials[g]. */
const SUM_SQUARES_FINAL = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${REDUCE_SUM}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < P[0].x; i += 256u) { s += partials[i]; }
  let tot = reduce_sum(s, lid);
  if (lid == 0u) { out[P[0].y] = tot; }
}
`;

/**
 * AdamW over p/g/m/v (as src/train/optim/adamw.ts after clip.ts): g' = g·P1; with P2 = maxNorm > 0 and
 * norm = √sumsq[0]·P1 > maxNorm, g' ← g'·maxNorm/(norm + 1e-6); m ← P3·m + P4·g'; v ← P5·v + P6·g'²;
 * p ← p·P10 − P8·m/(√v/P9 + P7); g ← 0. P3 β1, P4 1 − β1, P5 β2, P6 1 − β2, P7 ε, P8 lr/bc1, P9 √bc2, P10 1 − decay.
 */
const ADAMW = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> sumsq: array<f32>;
fn f(w: u32) -> f32 { return bitcast<f32>(P[w / 4u][w % 4u]); }
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${FLAT}
  if (i >= P[0].x) { return; }
  var gi = g[i] * f(1u);
  let maxNorm = f(2u);
  let norm = sqrt(sumsq[0]) * f(1u);
  if (maxNorm > 0.0 && norm > maxNorm) { gi = gi * (maxNorm / (norm + 1e-6)); }
  let mi = f(3u) * m[i] + f(4u) * gi;
  let vi = f(5u) * v[i] + f(6u) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] * f(10u) - f(8u) * mi / (sqrt(vi) / f(9u) + f(7u));
  g[i] = 0.0;
}
`;

/** The training-step kernels (text builders and sources; train-ops.ts records them). */
export const TRAIN_WGSL = {
  backInput: backInputShader,
  backWeight: backWeightShader,
  axpy: AXPY,
  swigluBack: SWIGLU_BACK,
  ropeRows: ROPE_ROWS,
  crossEntropy: CROSS_ENTROPY,
  sumSquaresPartial: SUM_SQUARES_PARTIAL,
  sumSquaresFinal: SUM_SQUARES_FINAL,
  adamw: ADAMW,
  tileBytes,
} as const;
