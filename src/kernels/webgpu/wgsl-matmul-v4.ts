import { WDECODE } from './wgsl-quant.js';

/**
 * The vec4 tiled product for prefill (same parameters and bindings as wgsl-matmul.ts: P words 0 rows, 1 cols,
 * 2 n; 0 P, 1 weight, 2 x, 3 out). It reads x (and F32 weights) as vec4<f32>, so it needs cols ≡ 0 (mod 4);
 * the backend falls back to the scalar kernel otherwise. The decode products are in wgsl-matvec.ts.
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

/** The vec4 product shader generators (text builders; the backend's contract covers what they compute). */
export const MATMUL4_WGSL = { tiled: tiled4Shader, tiledBytes: tiled4Bytes } as const;
