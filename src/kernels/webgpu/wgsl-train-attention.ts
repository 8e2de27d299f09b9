/**
 * WGSL of the packed-micro-batch attention of a training step (host side: train-attention.ts). Rows hold
 * several examples back to back; row t attends causally to rows seg[t]..t of its own example.
 *
 * Every tiled kernel gives one workgroup a block of BR consecutive "own" rows of one head (queries: forward
 * and dq) or of one KV head (keys: dk, dv) and streams the "other" rows of the block's examples through
 * workgroup memory in tiles of BK rows (vec4 chunks, zero past the head dimension): keys seg[b0]..last, or
 * queries b0..segEnd[last]−1, which covers every row of the block since examples lie back to back (seg and
 * segEnd never decrease). S lanes (4 by default) share an own row: lane s keeps chunks s, s + S, … of that row
 * (and of its accumulator) in registers, takes its partial dot with each tile row, and the S partials go
 * through workgroup memory and are summed in lane order, so every lane of a row sees the same scores. Masked pairs get probability exactly 0 through `select`, so rows
 * never see another example's values, and every output is written by one thread (deterministic, no atomics).
 * Parameters (uniform P, 16 u32 words): P0 n, P1 heads, P2 kvHeads, P3 scale bits; word 15 (P[3].w) is the
 * number of workgroups along x, workgroup w = wid.y·P[3].w + wid.x (grids fold past 65,535).
 */

/** Largest head dimension the kernels take. */
export const TRAIN_ATTN_MAX_HEAD_DIM = 256;

/** Lanes per own row s, own rows per workgroup br (threads s·br ≤ 256), tile rows bk. */
export interface TrainAttnTiling {
  readonly s: number;
  readonly br: number;
  readonly bk: number;
}

/**
 * The tiling the host uses: 4 lanes × 32 rows (128 threads), tiles of 8 rows up to d = 128 and 4 beyond, so
 * workgroup memory 2·bk·⌈d/4⌉ vec4 + 2·bk·s·br floats stays ≤ 16 KiB.
 */
function trainAttnTiling(d: number): TrainAttnTiling {
  return { s: 4, br: 32, bk: d > 128 ? 4 : 8 };
}

/** What the generators need: the head dimension d, its vec4 chunks c, the tiling and the thread count. */
interface Gen extends TrainAttnTiling {
  readonly d: number;
  readonly c: number;
  readonly threads: number;
}

function gen(d: number, t: TrainAttnTiling): Gen {
  return { ...t, d, c: Math.ceil(d / 4), threads: t.s * t.br };
}

function consts(g: Gen, twoDots: boolean): string {
  return `const S = ${g.s}u; const BR = ${g.br}u; const T = ${g.threads}u; const BK = ${g.bk}u;
const D = ${g.d}u; const C = ${g.c}u; const MC = ${Math.ceil(g.c / g.s)}u;
var<workgroup> ta: array<vec4<f32>, ${g.bk * g.c}>;
var<workgroup> tb: array<vec4<f32>, ${g.bk * g.c}>;
var<workgroup> sa: array<f32, ${g.bk * g.threads}>;
${twoDots ? `var<workgroup> sb: array<f32, ${g.bk * g.threads}>;` : ''}`;
}

type Access = 'read' | 'read_write';

/** The uniform and storage bindings 1.. in order, f32 unless the name is in `u32s`. */
function bindings(names: readonly string[], writes: readonly string[], u32s: readonly string[] = []): string {
  const lines = names.map((name, i) => {
    const access: Access = writes.includes(name) ? 'read_write' : 'read';
    return `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: array<${u32s.includes(name) ? 'u32' : 'f32'}>;`;
  });
  return ['@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;', ...lines].join('\n');
}

/** `ld_<buf>(o, ch)`: chunk ch (elements 4ch..4ch+3, zero past D) of the row at float offset o. */
function loader(buf: string, d: number): string {
  const tail = d % 4 === 0 ? `${buf}[i + 2u], ${buf}[i + 3u]` : `select(0.0, ${buf}[i + 2u], 4u * ch + 2u < D), select(0.0, ${buf}[i + 3u], 4u * ch + 3u < D)`;
  return `fn ld_${buf}(o: u32, ch: u32) -> vec4<f32> { let i = o + 4u * ch; return vec4<f32>(${buf}[i], ${buf}[i + 1u], ${tail}); }`;
}

/** `st_<buf>(o, ch, x)`: stores chunk ch of x (D is even, so a chunk holds 2 or 4 elements). */
function storer(buf: string): string {
  return `fn st_${buf}(o: u32, ch: u32, x: vec4<f32>) {
  let i = o + 4u * ch;
  ${buf}[i] = x.x; ${buf}[i + 1u] = x.y;
  if (4u * ch + 2u < D) { ${buf}[i + 2u] = x.z; ${buf}[i + 3u] = x.w; }
}`;
}

/** The loop over this lane's chunks, `body` seeing m and ch (guarded when the lanes do not split C evenly). */
function chunks(g: Gen, body: string): string {
  const guarded = g.c % g.s === 0 ? body : `if (ch < C) { ${body} }`;
  return `for (var m = 0u; m < MC; m++) { let ch = s + S * m; ${guarded} }`;
}

/** Workgroup w → own block b0..last of unit u (a head or a KV head); r, s: own row and lane of this thread. */
function prologue(units: string): string {
  return `let n = P[0].x; let heads = P[0].y; let kvh = P[0].z; let scale = bitcast<f32>(P[0].w);
  let w = wid.y * P[3].w + wid.x;
  if (w >= ((n + BR - 1u) / BR) * ${units}) { return; }
  let u = w % ${units};
  let b0 = (w / ${units}) * BR;
  let r = lid / S; let s = lid % S;
  let row = b0 + r; let live = row < n; let rc = min(row, n - 1u);
  let last = min(b0 + BR, n) - 1u;`;
}

/** Fills ta (and tb) with tile rows x = x0 + c below `end` (zeros beyond): ta ← ld_a(offset of x), tb ← ld_b. */
function loadTiles(x0: string, end: string, offset: string, a: string, b: string): string {
  return `for (var e = lid; e < BK * C; e += T) {
      let x = ${x0} + e / C;
      var va = vec4<f32>(); var vb = vec4<f32>();
      if (x < ${end}) { let o = ${offset}; va = ld_${a}(o, e % C); vb = ld_${b}(o, e % C); }
      ta[e] = va; tb[e] = vb;
    }
    let cnt = min(BK, ${end} - ${x0});
    workgroupBarrier();`;
}

/** Writes this lane's partial dots of own rows `x` (with ta) and `y` (with tb, when given) into sa / sb. */
function partials(g: Gen, x: string, y?: string): string {
  const second = y === undefined ? '' : `b += dot(${y}[m], tb[c * C + ch]);`;
  const store = y === undefined ? '' : 'sb[(c * BR + r) * S + s] = b;';
  return `for (var c = 0u; c < cnt; c++) {
      var a = 0.0; var b = 0.0;
      ${chunks(g, `a += dot(${x}[m], ta[c * C + ch]); ${second}`)}
      sa[(c * BR + r) * S + s] = a; ${store}
    }
    workgroupBarrier();`;
}

/** The full dot of own row r with tile row c: its S partials in `buf`, summed in lane order. */
function laneSum(g: Gen, buf: string): string {
  const terms = Array.from({ length: g.s }, (_, i) => `${buf}[(c * BR + r) * S + ${i}u]`);
  return terms.reduce((acc, t) => `(${acc} + ${t})`);
}

/** Loads chunks of the own row at offset `o` of each buffer into a register array of the same name + 'v'. */
function ownRows(g: Gen, o: string, bufs: readonly string[]): string {
  const decl = bufs.map((b) => `var ${b}v: array<vec4<f32>, MC>;`).join(' ');
  return `${decl}\n  ${chunks(g, bufs.map((b) => `${b}v[m] = ld_${b}(${o}, ch);`).join(' '))}`;
}

/**
 * Forward: out[t, h] = Σ_{j=seg[t]}^{t} softmax_j(scale·q_t·k_j)·v_j and lse[t·heads + h], online softmax
 * over tiles of keys seg[b0]..last (running max mx and sum l per row, rescaled by exp(mx_old − mx_new)).
 * Bindings: q, k, v, seg, out, lse. One workgroup per (block, head), w = block·heads + h.
 */
function forward(d: number, t = trainAttnTiling(d)): string {
  const g = gen(d, t);
  return `${bindings(['q', 'k', 'v', 'seg', 'out', 'lse'], ['out', 'lse'], ['seg'])}
${consts(g, false)}
${loader('q', d)}
${loader('k', d)}
${loader('v', d)}
${storer('out')}
@compute @workgroup_size(${g.threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${prologue('heads')}
  let h = u; let g = h / (heads / kvh);
  let qo = (rc * heads + h) * D;
  ${ownRows(g, 'qo', ['q'])}
  var acc: array<vec4<f32>, MC>;
  let sg = seg[rc];
  var mx = -3.0e38; var l = 0.0;
  for (var j0 = seg[b0]; j0 <= last; j0 += BK) {
    ${loadTiles('j0', 'last + 1u', '(x * kvh + g) * D', 'k', 'v')}
    ${partials(g, 'qv')}
    var mn = mx;
    for (var c = 0u; c < cnt; c++) {
      let j = j0 + c;
      if (j >= sg && j <= row) { mn = max(mn, ${laneSum(g, 'sa')} * scale); }
    }
    let alpha = exp(mx - mn);
    for (var m = 0u; m < MC; m++) { acc[m] = acc[m] * alpha; }
    var ps = 0.0;
    for (var c = 0u; c < cnt; c++) {
      let j = j0 + c;
      let p = select(0.0, exp(${laneSum(g, 'sa')} * scale - mn), j >= sg && j <= row);
      ps += p;
      ${chunks(g, 'acc[m] += p * tb[c * C + ch];')}
    }
    l = l * alpha + ps; mx = mn;
    workgroupBarrier();
  }
  if (live) {
    ${chunks(g, 'st_out(qo, ch, acc[m] / l);')}
    if (s == 0u) { lse[row * heads + h] = mx + log(l); }
  }
}
`;
}

/**
 * dq_t = scale·Σ_j ds_tj·k_j, ds = p·(dO_t·v_j − D_t), p = exp(scale·q_t·k_j − lse_t), over the keys
 * seg[t]..t. Bindings: q, k, v, lse, go (dOut), dd (D), seg, dq. One workgroup per (block, head).
 */
function dq(d: number, t = trainAttnTiling(d)): string {
  const g = gen(d, t);
  return `${bindings(['q', 'k', 'v', 'lse', 'go', 'dd', 'seg', 'dq'], ['dq'], ['seg'])}
${consts(g, true)}
${['q', 'k', 'v', 'go'].map((b) => loader(b, d)).join('\n')}
${storer('dq')}
@compute @workgroup_size(${g.threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${prologue('heads')}
  let h = u; let g = h / (heads / kvh);
  let qo = (rc * heads + h) * D;
  ${ownRows(g, 'qo', ['q', 'go'])}
  var acc: array<vec4<f32>, MC>;
  let lt = lse[rc * heads + h]; let dt = dd[rc * heads + h]; let sg = seg[rc];
  for (var j0 = seg[b0]; j0 <= last; j0 += BK) {
    ${loadTiles('j0', 'last + 1u', '(x * kvh + g) * D', 'k', 'v')}
    ${partials(g, 'qv', 'gov')}
    for (var c = 0u; c < cnt; c++) {
      let j = j0 + c;
      let p = select(0.0, exp(${laneSum(g, 'sa')} * scale - lt), j >= sg && j <= row);
      let ds = p * (${laneSum(g, 'sb')} - dt);
      ${chunks(g, 'acc[m] += ds * ta[c * C + ch];')}
    }
    workgroupBarrier();
  }
  if (live) { ${chunks(g, 'st_dq(qo, ch, acc[m] * scale);')} }
}
`;
}

/**
 * dk_j (withV false) = scale·Σ_h Σ_t ds_tj·q_t, or dv_j (withV true) = Σ_h Σ_t p_tj·dO_t, over the heads h
 * of KV head g (in order) and the queries t = j..segEnd[j]−1. Bindings: q, k, [v,] lse, go, [dd,] segEnd,
 * and the output. One workgroup per (block, KV head), w = block·kvHeads + g.
 */
function keyGrad(d: number, withV: boolean, t = trainAttnTiling(d)): string {
  const g = gen(d, t);
  const names = withV ? ['q', 'k', 'lse', 'go', 'segEnd', 'dv'] : ['q', 'k', 'v', 'lse', 'go', 'dd', 'segEnd', 'dk'];
  const dst = withV ? 'dv' : 'dk';
  const step = withV
    ? `${chunks(g, 'acc[m] += p * tb[c * C + ch];')}`
    : `let ds = p * (${laneSum(g, 'sb')} - dd[tc * heads + h]);
        ${chunks(g, 'acc[m] += ds * ta[c * C + ch];')}`;
  return `${bindings(names, [dst], ['segEnd'])}
${consts(g, !withV)}
${['q', 'k', 'go', ...(withV ? [] : ['v'])].map((b) => loader(b, d)).join('\n')}
${storer(dst)}
@compute @workgroup_size(${g.threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${prologue('kvh')}
  let g = u; let rep = heads / kvh;
  let ko = (rc * kvh + g) * D;
  ${ownRows(g, 'ko', withV ? ['k'] : ['k', 'v'])}
  var acc: array<vec4<f32>, MC>;
  let se = segEnd[rc]; let tEnd = segEnd[last];
  for (var hh = 0u; hh < rep; hh++) {
    let h = g * rep + hh;
    for (var t0 = b0; t0 < tEnd; t0 += BK) {
      ${loadTiles('t0', 'tEnd', '(x * heads + h) * D', 'q', 'go')}
      ${withV ? partials(g, 'kv') : partials(g, 'kv', 'vv')}
      for (var c = 0u; c < cnt; c++) {
        let t = t0 + c; let tc = min(t, n - 1u);
        let p = select(0.0, exp(${laneSum(g, 'sa')} * scale - lse[tc * heads + h]), t >= row && t < se);
        ${step}
      }
      workgroupBarrier();
    }
  }
  if (live) { ${chunks(g, `st_${dst}(ko, ch, ${withV ? 'acc[m]' : 'acc[m] * scale'});`)} }
}
`;
}

/** D[i] = Σ_x dOut[i·d + x]·out[i·d + x] for i < P0 (= n·heads), P1 = d; one invocation per i. */
const ROWSUM = /* wgsl */ `${bindings(['go', 'out', 'dd'], ['dd'])}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * P[3].w * 256u + gid.x;
  if (i >= P[0].x) { return; }
  let d = P[0].y;
  var a = 0.0;
  for (var x = 0u; x < d; x++) { a += go[i * d + x] * out[i * d + x]; }
  dd[i] = a;
}
`;

/** The kernel sources; the tiled ones are generated per head dimension d and tiling (dispatch keys name both). */
export const TRAIN_ATTN_WGSL = {
  tiling: trainAttnTiling,
  forward,
  dq,
  dk: (d: number, t?: TrainAttnTiling): string => keyGrad(d, false, t),
  dv: (d: number, t?: TrainAttnTiling): string => keyGrad(d, true, t),
  rowsum: ROWSUM,
} as const;
