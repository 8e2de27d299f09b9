import { WDECODE } from './wgsl-quant.js';

/**
 * Faster product kernels (same parameters and bindings as wgsl-matmul.ts: P words 0 rows, 1 cols, 2 n,
 * 4 first token row; 0 P, 1 weight, 2 x, 3 out). They read x (and F32 weights) as vec4<f32>, so they need
 * cols ≡ 0 (mod 4); the backend falls back to the scalar kernels otherwise.
 */

const HEADER = (weight: string): string => /* wgsl */ `
@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
@group(0) @binding(1) var<storage, read> ${weight};
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<private> P_COLS: u32;
`;

export interface Tile4Config {
  /** Outputs per thread along t and r (4 or 8); the workgroup is 16×16 threads. */
  readonly tm: number;
  readonly tn: number;
  /** Depth of one shared-memory step (a multiple of 4). */
  readonly bk: number;
}

/** One vec4 of padding per k row avoids 4-way bank conflicts on the transposed stores, where it fits in 32 KiB. */
function tile4Pad(tile: Tile4Config): number {
  return tile.bk * 16 * (tile.tm + tile.tn) * 4 + tile.bk * 32 <= 32768 ? 1 : 0;
}

/** Workgroup memory of the vec4 tiled product: As and Bs, bk·(16·tm/4 + pad) + bk·(16·tn/4 + pad) vec4s. */
function tiled4Bytes(tile: Tile4Config): number {
  const pad = tile4Pad(tile);
  return 16 * tile.bk * (4 * tile.tm + pad + 4 * tile.tn + pad);
}

/** Loads of one bm × bk slice into registers (vec4 along k), then transposed stores into shared memory. */
function stagingCode(name: string, regs: string, span: number, bk: number, pad: number, guard: (m: string, k: string) => string, load: (m: string, k: string) => string): { load: (k0: string) => string; store: string } {
  const per = Math.ceil((span * bk) / 1024);
  const kq = bk / 4;
  const stride = span / 4 + pad;
  const all = span * kq;
  const idx = (l: number): string => `let e${l} = lid + ${256 * l}u; let m${l} = e${l} / ${kq}u; let q${l} = (e${l} % ${kq}u) * 4u;`;
  const loads = (k0: string): string => Array.from({ length: per }, (_, l) => `{ ${idx(l)} ${regs}[${l}] = vec4<f32>(0.0);
    if (e${l} < ${all}u && ${guard(`m${l}`, `${k0} + q${l}`)}) { ${regs}[${l}] = ${load(`m${l}`, `${k0} + q${l}`)}; } }`).join('\n    ');
  const store = Array.from({ length: per }, (_, l) => `{ ${idx(l)} if (e${l} < ${all}u) { let s = m${l} / 4u; let c = m${l} % 4u;
    ${[0, 1, 2, 3].map((q) => `${name}[(q${l} + ${q}u) * ${stride}u + s][c] = ${regs}[${l}][${q}];`).join(' ')} } }`).join('\n    ');
  return { load: loads, store };
}

/** The register-tile arithmetic (acc += a·b as vec4 fmas) and the guarded stores of acc into out. */
function accumulatorCode(ga: number, gb: number): { fmas: string[]; writes: string[] } {
  const fmas: string[] = [];
  for (let g = 0; g < ga; g++) for (let q = 0; q < 4; q++) for (let h = 0; h < gb; h++) fmas.push(`acc[${(4 * g + q) * gb + h}] = fma(vec4<f32>(a${g}[${q}]), b${h}, acc[${(4 * g + q) * gb + h}]);`);
  const writes: string[] = [];
  for (let g = 0; g < ga; g++) {
    for (let q = 0; q < 4; q++) {
      writes.push(`{ let t = t0 + ${64 * g + q}u + 4u * ty; if (t < n) {`);
      for (let h = 0; h < gb; h++) {
        writes.push(`  { let r = r0 + ${64 * h}u + 4u * tx; let v = acc[${(4 * g + q) * gb + h}];`);
        writes.push(`    for (var j = 0u; j < 4u; j++) { if (r + j < rows) { out[t * rows + r + j] = v[j]; } } }`);
      }
      writes.push('} }');
    }
  }
  return { fmas, writes };
}

/**
 * Tiled product with vec4 traffic: a 16×16 workgroup computes a (16·tm) × (16·tn) block of out. Each bk
 * step loads the x and W slices from global memory as vec4 along k into registers (prefetched one step
 * ahead, overlapping the loads with the previous step's arithmetic), stores them k-major into shared memory
 * (rows padded by one vec4 against bank conflicts), and each thread reads its operands as vec4s: thread
 * (ty, tx) owns token rows t0 + 64g + 4ty + q and weight rows r0 + 64h + 4tx + q (g < tm/4, h < tn/4, q < 4).
 */
function tiled4Shader(dtype: string, tile: Tile4Config): string {
  const { tm, tn, bk } = tile;
  const bm = 16 * tm;
  const bn = 16 * tn;
  const ga = tm / 4;
  const gb = tn / 4;
  const f32 = dtype === 'F32';
  const weight = f32 ? 'w4: array<vec4<f32>>' : 'wq: array<u32>';
  const bload = f32
    ? 'fn bload(r: u32, c: u32) -> vec4<f32> { return w4[(r * P_COLS + c) >> 2u]; }'
    : `${WDECODE[dtype] ?? ''}\nfn bload(r: u32, c: u32) -> vec4<f32> { return vec4<f32>(wload(r, c), wload(r, c + 1u), wload(r, c + 2u), wload(r, c + 3u)); }`;
  const pad = tile4Pad(tile);
  const A = stagingCode('As', 'ra', bm, bk, pad, (m, k) => `t0 + ${m} < n && ${k} < cols`, (m, k) => `x4[((t0 + ${m}) * cols + ${k}) >> 2u]`);
  const B = stagingCode('Bs', 'rb', bn, bk, pad, (m, k) => `r0 + ${m} < rows && ${k} < cols`, (m, k) => `bload(r0 + ${m}, ${k})`);
  const sa = bm / 4 + pad;
  const sb = bn / 4 + pad;
  const { fmas, writes } = accumulatorCode(ga, gb);
  return /* wgsl */ `${HEADER(weight)}${bload}
var<workgroup> As: array<vec4<f32>, ${bk * sa}>;
var<workgroup> Bs: array<vec4<f32>, ${bk * sb}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rows = P[0].x; let cols = P[0].y; let n = P[0].z; P_COLS = cols;
  let t0 = wid.y * ${bm}u;
  let r0 = wid.x * ${bn}u;
  let tx = lid % 16u;
  let ty = lid / 16u;
  var acc: array<vec4<f32>, ${tm * gb}>;
  var ra: array<vec4<f32>, ${Math.ceil((bm * bk) / 1024)}>;
  var rb: array<vec4<f32>, ${Math.ceil((bn * bk) / 1024)}>;
  ${A.load('0u')}
  ${B.load('0u')}
  for (var k0 = 0u; k0 < cols; k0 += ${bk}u) {
    workgroupBarrier();
    ${A.store}
    ${B.store}
    workgroupBarrier();
    if (k0 + ${bk}u < cols) {
      let k1 = k0 + ${bk}u;
      ${A.load('k1')}
      ${B.load('k1')}
    }
    for (var k = 0u; k < ${bk}u; k++) {
      ${Array.from({ length: ga }, (_, g) => `let a${g} = As[k * ${sa}u + ${16 * g}u + ty];`).join(' ')}
      ${Array.from({ length: gb }, (_, h) => `let b${h} = Bs[k * ${sb}u + ${16 * h}u + tx];`).join(' ')}
      ${fmas.join('\n      ')}
    }
  }
  ${writes.join('\n  ')}
}
`;
}

/**
 * Reduction over the 32 lanes of each of the 8 rows and the write of out[(tb + t)·rows + r], as in
 * wgsl-matmul.ts; with P3 = 1 the sum is added to what out holds (out += W·x, the residual add fused).
 */
const MATVEC_TAIL = /* wgsl */ `
  for (var t = 0u; t < n; t++) { red[t * 256u + lid] = acc[t]; }
  workgroupBarrier();
  for (var s = 16u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var t = 0u; t < n; t++) { red[t * 256u + lid] += red[t * 256u + lid + s]; }
    }
    workgroupBarrier();
  }
  if (r < rows && lane < n) {
    let o = (tb + lane) * rows + r;
    let v = red[lane * 256u + lid - lane];
    if (P[0].w == 1u) { out[o] = out[o] + v; } else { out[o] = v; }
  }
}
`;

const MATVEC_HEAD = /* wgsl */ `
var<workgroup> red: array<f32, 2048>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rows = P[0].x; let cols = P[0].y; let n = P[0].z; let tb = P[1].x;
  let lane = lid % 32u;
  let r = (wid.y * P[3].w + wid.x) * 8u + lid / 32u;
  var acc: array<f32, 8>;
`;

/**
 * Q4_K matrix-vector product (n ≤ 8 token rows tb..tb+n): 8 weight rows per workgroup, 32 lanes per row,
 * each lane taking whole 32-weight sub-blocks (lane, lane + 32, …): one 16-byte header read (d, dmin and the
 * packed 6-bit scales) and two 16-byte quant reads per sub-block, the scale and min decoded once. Each weight
 * is still formed as d₁·q − m₁ in float32, exactly as the CPU decoder.
 */
const Q4K_MATVEC = /* wgsl */ `${HEADER('wq4: array<vec4<u32>>')}
fn scb(h: vec4<u32>, k: u32) -> u32 { return (h[1u + k / 4u] >> ((k % 4u) * 8u)) & 255u; }
fn scale_min(h: vec4<u32>, j: u32, sm: u32) -> u32 {
  if (j < 4u) { return scb(h, j + 4u * sm) & 63u; }
  let hi = scb(h, j + 4u);
  let lo = select(hi >> 4u, hi & 15u, sm == 0u);
  return lo | ((scb(h, j - 4u * (1u - sm)) >> 6u) << 4u);
}
${MATVEC_HEAD}
  if (r < rows) {
    let nb = cols / 256u;
    for (var s = lane; s < nb * 8u; s += 32u) {
      let b = s / 8u; let j = s % 8u; let chunk = j / 2u; let hi = j % 2u;
      let base = (r * nb + b) * 9u;
      let h = wq4[base];
      let dm = unpack2x16float(h.x);
      let d1 = dm.x * f32(scale_min(h, j, 0u));
      let m1 = dm.y * f32(scale_min(h, j, 1u));
      let qa = wq4[base + 1u + 2u * chunk];
      let qb = wq4[base + 2u + 2u * chunk];
      let c4 = (b * 256u + chunk * 64u + hi * 32u) / 4u;
      for (var t = 0u; t < n; t++) {
        let xo = ((tb + t) * cols) / 4u + c4;
        var sum = 0.0;
        for (var w = 0u; w < 8u; w++) {
          let word = select(qb[w % 4u], qa[w % 4u], w < 4u) >> (4u * hi);
          let q = vec4<f32>(f32(word & 15u), f32((word >> 8u) & 15u), f32((word >> 16u) & 15u), f32((word >> 24u) & 15u));
          let p = d1 * q;
          sum += dot(p - vec4<f32>(m1), x4[xo + w]);
        }
        acc[t] += sum;
      }
    }
  }
${MATVEC_TAIL}`;

/**
 * Q8_0 matrix-vector product: as Q4K_MATVEC with one 34-byte block per lane step, read as the nine u32 words
 * that cover it (a block starts 2-byte aligned; the quants are re-aligned by a 16-bit funnel shift).
 */
const Q80_MATVEC = /* wgsl */ `${HEADER('wq: array<u32>')}
${MATVEC_HEAD}
  if (r < rows) {
    let nb = cols / 32u;
    for (var b = lane; b < nb; b += 32u) {
      let o = (r * nb + b) * 34u;
      let W = o >> 2u;
      let odd = (o & 3u) == 2u;
      var u: array<u32, 9>;
      for (var k = 0u; k < 9u; k++) { u[k] = wq[W + k]; }
      let d = unpack2x16float(select(u[0] & 0xffffu, u[0] >> 16u, odd)).x;
      for (var t = 0u; t < n; t++) {
        let xo = ((tb + t) * cols) / 4u + b * 8u;
        var sum = 0.0;
        for (var k = 0u; k < 8u; k++) {
          let qw = select((u[k] >> 16u) | (u[k + 1u] << 16u), u[k + 1u], odd);
          let q = vec4<f32>(f32((bitcast<i32>(qw) << 24u) >> 24u), f32((bitcast<i32>(qw) << 16u) >> 24u), f32((bitcast<i32>(qw) << 8u) >> 24u), f32(bitcast<i32>(qw) >> 24u));
          sum += dot(d * q, x4[xo + k]);
        }
        acc[t] += sum;
      }
    }
  }
${MATVEC_TAIL}`;

/**
 * Q6_K matrix-vector product: one lane step per 32-weight sub-block (half n, quarter q): its 32 low-nibble
 * bytes, 32 high-bit bytes, two int8 scales and d, read as u32 words (a 210-byte block starts 2-byte aligned,
 * so each 32-byte run comes from nine words and a 16-bit funnel shift). Weights are d·s·q as the CPU forms them.
 */
const Q6K_MATVEC = /* wgsl */ `${HEADER('wq: array<u32>')}
fn half16(o: u32) -> u32 { return (wq[o >> 2u] >> ((o & 3u) * 8u)) & 0xffffu; }
fn run32(o: u32, k: u32) -> u32 {
  let W = o >> 2u;
  return select(wq[W + k], (wq[W + k] >> 16u) | (wq[W + k + 1u] << 16u), (o & 3u) == 2u);
}
${MATVEC_HEAD}
  if (r < rows) {
    let nb = cols / 256u;
    for (var s = lane; s < nb * 8u; s += 32u) {
      let b = s / 8u; let hn = (s % 8u) / 4u; let q4 = s % 4u;
      let o = (r * nb + b) * 210u;
      let d = unpack2x16float(half16(o + 208u)).x;
      let sp = half16(o + 192u + 8u * hn + 2u * q4);
      let sc0 = d * f32((bitcast<i32>(sp) << 24u) >> 24u);
      let sc1 = d * f32((bitcast<i32>(sp) << 16u) >> 24u);
      let lo_at = o + 64u * hn + 32u * (q4 & 1u);
      let hi_at = o + 128u + 32u * hn;
      let ls = 4u * (q4 >> 1u);
      let hs = 2u * q4;
      var wv: array<vec4<f32>, 8>;
      for (var k = 0u; k < 8u; k++) {
        let lw = run32(lo_at, k) >> ls;
        let hw = run32(hi_at, k) >> hs;
        let qv = vec4<i32>(vec4<u32>(lw & 15u, (lw >> 8u) & 15u, (lw >> 16u) & 15u, (lw >> 24u) & 15u) | (vec4<u32>(hw & 3u, (hw >> 8u) & 3u, (hw >> 16u) & 3u, (hw >> 24u) & 3u) << vec4<u32>(4u))) - vec4<i32>(32);
        wv[k] = select(sc1, sc0, k < 4u) * vec4<f32>(qv);
      }
      let c4 = (b * 256u + 128u * hn + 32u * q4) / 4u;
      for (var t = 0u; t < n; t++) {
        let xo = ((tb + t) * cols) / 4u + c4;
        var sum = 0.0;
        for (var k = 0u; k < 8u; k++) { sum += dot(wv[k], x4[xo + k]); }
        acc[t] += sum;
      }
    }
  }
${MATVEC_TAIL}`;

/** F32 matrix-vector product with vec4 loads of W and x (cols ≡ 0 mod 4): lane steps over column quads. */
const F32_MATVEC = /* wgsl */ `${HEADER('w4: array<vec4<f32>>')}
${MATVEC_HEAD}
  if (r < rows) {
    let c4s = cols / 4u;
    for (var c = lane; c < c4s; c += 32u) {
      let w = w4[r * c4s + c];
      for (var t = 0u; t < n; t++) { acc[t] += dot(w, x4[(tb + t) * c4s + c]); }
    }
  }
${MATVEC_TAIL}`;

/** Weight dtypes with a blocked matrix-vector kernel. */
export const BLOCKED_MATVEC: Readonly<Record<string, string>> = { Q4_K: Q4K_MATVEC, Q8_0: Q80_MATVEC, Q6_K: Q6K_MATVEC, F32: F32_MATVEC };

/** The vec4 product shader generators (text builders; the backend's contract covers what they compute). */
export const MATMUL4_WGSL = { tiled: tiled4Shader, tiledBytes: tiled4Bytes } as const;
