/**
 * The decode products (blocked matrix-vector kernels): out[(tb + t)·rows + r] = Σ_c W[r, c] · x[(tb + t)·cols + c]
 * for the n ≤ BLOCKED_MAX_N token rows tb.. of x. 8 weight rows per workgroup of 256 threads, 32 lanes per
 * row, each lane taking whole quant sub-blocks and applying each decoded sub-block to every token row, so a
 * dispatch reads and decodes each weight once whatever n is (decoded into registers before the token-row
 * loop, so a token row costs one vec4 dot per 4 weights); then a 32-lane tree reduction per (row, token row) that does
 * not depend on n (batch invariance). Parameters (uniform P, u32 words): 0 rows, 1 cols, 2 n, 3 accumulate
 * (out += instead of out =), 4 tb, 15 workgroups along x. x is read as vec4<f32> (cols ≡ 0 mod 4).
 * Each dtype's loop is text over its weight binding `$W` and accumulator `$A`, so the fused gate/up product
 * (MATVEC_GLU) runs the same loop twice, over two weights, with the same arithmetic.
 */

/** Token rows one blocked matvec dispatch takes. */
export const BLOCKED_MAX_N = 32;

interface DtypeLoop {
  /** WGSL type of the weight binding. */
  readonly decl: string;
  /** Helper functions that do not name the binding (emitted once). */
  readonly shared: string;
  /** Helper functions over binding $W (emitted per weight). */
  readonly helpers: string;
  /** The lane loop, inside `if (r < rows)`: accumulates row r of $W times every token row into $A[t]. */
  readonly loop: string;
}

/** Adds Σ_k dot(wv[k], x[t, c4 + k]) of the 8 decoded weight quads in `wv` to $A[t], for each of the n token rows. */
const tokenDots = (c4: string): string => /* wgsl */ `    for (var t = 0u; t < n; t++) {
      let xo = ((tb + t) * cols) / 4u + ${c4};
      var sum = 0.0;
      for (var k = 0u; k < 8u; k++) { sum += dot(wv[k], x4[xo + k]); }
      $A[t] += sum;
    }`;

/**
 * Q4_K: each lane step takes one 32-weight sub-block: one 16-byte header read (d, dmin and the packed 6-bit
 * scales) and two 16-byte quant reads, the scale and min decoded once. Each weight is still formed as
 * d₁·q − m₁ in float32, exactly as the CPU decoder.
 */
const Q4_K: DtypeLoop = {
  decl: 'array<vec4<u32>>',
  shared: /* wgsl */ `fn scb(h: vec4<u32>, k: u32) -> u32 { return (h[1u + k / 4u] >> ((k % 4u) * 8u)) & 255u; }
fn scale_min(h: vec4<u32>, j: u32, sm: u32) -> u32 {
  if (j < 4u) { return scb(h, j + 4u * sm) & 63u; }
  let hi = scb(h, j + 4u);
  let lo = select(hi >> 4u, hi & 15u, sm == 0u);
  return lo | ((scb(h, j - 4u * (1u - sm)) >> 6u) << 4u);
}
`,
  helpers: '',
  loop: /* wgsl */ `  let nb = cols / 256u;
  for (var s = lane; s < nb * 8u; s += 32u) {
    let b = s / 8u; let j = s % 8u; let chunk = j / 2u; let hi = j % 2u;
    let base = (r * nb + b) * 9u;
    let h = $W[base];
    let dm = unpack2x16float(h.x);
    let d1 = dm.x * f32(scale_min(h, j, 0u));
    let m1 = dm.y * f32(scale_min(h, j, 1u));
    let qa = $W[base + 1u + 2u * chunk];
    let qb = $W[base + 2u + 2u * chunk];
    let c4 = (b * 256u + chunk * 64u + hi * 32u) / 4u;
    var wv: array<vec4<f32>, 8>;
    for (var w = 0u; w < 8u; w++) {
      let word = select(qb[w % 4u], qa[w % 4u], w < 4u) >> (4u * hi);
      let q = vec4<f32>(f32(word & 15u), f32((word >> 8u) & 15u), f32((word >> 16u) & 15u), f32((word >> 24u) & 15u));
      let p = d1 * q;
      wv[w] = p - vec4<f32>(m1);
    }
${tokenDots('c4')}
  }`,
};

/** Q8_0: one 34-byte block per lane step, read as the nine u32 words that cover it (a block starts 2-byte aligned; a 16-bit funnel shift re-aligns the quants). */
const Q8_0: DtypeLoop = {
  decl: 'array<u32>',
  shared: '',
  helpers: '',
  loop: /* wgsl */ `  let nb = cols / 32u;
  for (var b = lane; b < nb; b += 32u) {
    let o = (r * nb + b) * 34u;
    let W = o >> 2u;
    let odd = (o & 3u) == 2u;
    var u: array<u32, 9>;
    for (var k = 0u; k < 9u; k++) { u[k] = $W[W + k]; }
    let d = unpack2x16float(select(u[0] & 0xffffu, u[0] >> 16u, odd)).x;
    var wv: array<vec4<f32>, 8>;
    for (var k = 0u; k < 8u; k++) {
      let qw = select((u[k] >> 16u) | (u[k + 1u] << 16u), u[k + 1u], odd);
      let q = vec4<f32>(f32((bitcast<i32>(qw) << 24u) >> 24u), f32((bitcast<i32>(qw) << 16u) >> 24u), f32((bitcast<i32>(qw) << 8u) >> 24u), f32(bitcast<i32>(qw) >> 24u));
      wv[k] = d * q;
    }
${tokenDots('b * 8u')}
  }`,
};

/**
 * Q6_K: one lane step per 32-weight sub-block (half n, quarter q): its 32 low-nibble bytes, 32 high-bit bytes,
 * two int8 scales and d, read as u32 words (a 210-byte block starts 2-byte aligned, so each 32-byte run comes
 * from nine words and a 16-bit funnel shift). Weights are d·s·q as the CPU forms them.
 */
const Q6_K: DtypeLoop = {
  decl: 'array<u32>',
  shared: '',
  helpers: /* wgsl */ `fn half16_$W(o: u32) -> u32 { return ($W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffffu; }
fn run32_$W(o: u32, k: u32) -> u32 {
  let W = o >> 2u;
  return select($W[W + k], ($W[W + k] >> 16u) | ($W[W + k + 1u] << 16u), (o & 3u) == 2u);
}
`,
  loop: /* wgsl */ `  let nb = cols / 256u;
  for (var s = lane; s < nb * 8u; s += 32u) {
    let b = s / 8u; let hn = (s % 8u) / 4u; let q4 = s % 4u;
    let o = (r * nb + b) * 210u;
    let d = unpack2x16float(half16_$W(o + 208u)).x;
    let sp = half16_$W(o + 192u + 8u * hn + 2u * q4);
    let sc0 = d * f32((bitcast<i32>(sp) << 24u) >> 24u);
    let sc1 = d * f32((bitcast<i32>(sp) << 16u) >> 24u);
    let lo_at = o + 64u * hn + 32u * (q4 & 1u);
    let hi_at = o + 128u + 32u * hn;
    let ls = 4u * (q4 >> 1u);
    let hs = 2u * q4;
    var wv: array<vec4<f32>, 8>;
    for (var k = 0u; k < 8u; k++) {
      let lw = run32_$W(lo_at, k) >> ls;
      let hw = run32_$W(hi_at, k) >> hs;
      let qv = vec4<i32>(vec4<u32>(lw & 15u, (lw >> 8u) & 15u, (lw >> 16u) & 15u, (lw >> 24u) & 15u) | (vec4<u32>(hw & 3u, (hw >> 8u) & 3u, (hw >> 16u) & 3u, (hw >> 24u) & 3u) << vec4<u32>(4u))) - vec4<i32>(32);
      wv[k] = select(sc1, sc0, k < 4u) * vec4<f32>(qv);
    }
    let c4 = (b * 256u + 128u * hn + 32u * q4) / 4u;
${tokenDots('c4')}
  }`,
};

/** F32 with vec4 loads of W and x: lane steps over column quads. */
const F32: DtypeLoop = {
  decl: 'array<vec4<f32>>',
  shared: '',
  helpers: '',
  loop: /* wgsl */ `  let c4s = cols / 4u;
  for (var c = lane; c < c4s; c += 32u) {
    let w = $W[r * c4s + c];
    for (var t = 0u; t < n; t++) { $A[t] += dot(w, x4[(tb + t) * c4s + c]); }
  }`,
};

const LOOPS: Readonly<Record<string, DtypeLoop>> = { Q4_K, Q8_0, Q6_K, F32 };

const over = (text: string, w: string, acc: string): string => text.replaceAll('$W', w).replaceAll('$A', acc);

const HEAD = /* wgsl */ `
var<workgroup> red: array<f32, 2048>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rows = P[0].x; let cols = P[0].y; let n = P[0].z; let tb = P[1].x;
  let lane = lid % 32u;
  let r = (wid.y * P[3].w + wid.x) * 8u + lid / 32u;`;

/**
 * The 32-lane tree reduction of `accs` (one per weight) for `per` token rows at a time through the same
 * 8 KiB (`per`·|accs| ≤ 8), then `write(v)` with v[k] the reduced sum of accs[k] for token row t0 + lane.
 */
function tail(accs: readonly string[], per: number, write: (v: string[]) => string): string {
  const slots = accs.map((_, k) => `${k * per}u`);
  return /* wgsl */ `
  for (var t0 = 0u; t0 < n; t0 += ${per}u) {
    let m = min(${per}u, n - t0);
    for (var t = 0u; t < m; t++) { ${accs.map((a, k) => `red[(${slots[k]} + t) * 256u + lid] = ${a}[t0 + t];`).join(' ')} }
    workgroupBarrier();
    for (var s = 16u; s > 0u; s >>= 1u) {
      if (lane < s) {
        for (var t = 0u; t < m; t++) { ${slots.map((o) => `red[(${o} + t) * 256u + lid] += red[(${o} + t) * 256u + lid + s];`).join(' ')} }
      }
      workgroupBarrier();
    }
    if (r < rows && lane < m) {
      let o = (tb + t0 + lane) * rows + r;
      ${write(slots.map((o) => `red[(${o} + lane) * 256u + lid - lane]`))}
    }
    workgroupBarrier();
  }
}
`;
}

/**
 * With an input norm the products read x as RMSNorm(x)·nw (binding nw4, eps bits in P7): first 1/rms of each
 * token row, by the loop and 256-lane tree of the RMSNorm kernel (wgsl-ops.ts) through `red`, then every x
 * load becomes nw·(x·r) as that kernel forms it, so the products see the values it would have written.
 */
const NORM_PROLOGUE = /* wgsl */ `
  var rn: array<f32, ${BLOCKED_MAX_N}>;
  let q4s = cols / 4u;
  for (var t = 0u; t < n; t++) {
    let o = (tb + t) * cols;
    var ss = 0.0;
    for (var i = lid; i < cols; i += 256u) { let v = x4[(o + i) / 4u][(o + i) % 4u]; ss += v * v; }
    red[lid] = ss;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
      if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
      workgroupBarrier();
    }
    rn[t] = 1.0 / sqrt(red[0] / f32(cols) + bitcast<f32>(P[1].w));
    workgroupBarrier();
  }`;

/** The loop text with its x loads normalized (see NORM_PROLOGUE) when `norm`. */
function normed(loop: string, norm: boolean): string {
  return norm ? loop.replace(/x4\[([^\]]+)\]/g, (m, e: string) => `(nw4[(${e}) % q4s] * (${m} * rn[t]))`) : loop;
}

function inputs(first: number, norm: boolean): string {
  const x = `@group(0) @binding(${first}) var<storage, read> x4: array<vec4<f32>>;`;
  return norm ? `${x}\n@group(0) @binding(${first + 1}) var<storage, read> nw4: array<vec4<f32>>;` : x;
}

function matvecShader(dtype: string): string {
  const d = LOOPS[dtype] as DtypeLoop;
  return /* wgsl */ `@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
@group(0) @binding(1) var<storage, read> wq: ${d.decl};
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${d.shared}${over(d.helpers, 'wq', 'acc')}${HEAD}
  var acc: array<f32, ${BLOCKED_MAX_N}>;
  if (r < rows) {
${over(d.loop, 'wq', 'acc')}
  }${tail(['acc'], 8, ([v]) => `let v = ${v ?? ''};
      if (P[0].w == 1u) { out[o] = out[o] + v; } else { out[o] = v; }`)}`;
}

/**
 * The gate and up products and SwiGLU in one dispatch: out[t, r] = silu(g)·u with g = (W_gate·x)[t, r] and
 * u = (W_up·x)[t, r], each reduced by the same tree as the matvec, then the SWIGLU expression of wgsl-ops.ts.
 * Bindings: 0 P, 1 gate weight, 2 up weight, 3 x, (4 norm weight,) then out; parameters as the matvec.
 */
function gluShader(dtype: string, norm: boolean): string {
  const d = LOOPS[dtype] as DtypeLoop;
  return /* wgsl */ `@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
@group(0) @binding(1) var<storage, read> wg: ${d.decl};
@group(0) @binding(2) var<storage, read> wu: ${d.decl};
${inputs(3, norm)}
@group(0) @binding(${norm ? 5 : 4}) var<storage, read_write> out: array<f32>;
${d.shared}${over(d.helpers, 'wg', 'ag')}${over(d.helpers, 'wu', 'au')}${HEAD}${norm ? NORM_PROLOGUE : ''}
  var ag: array<f32, ${BLOCKED_MAX_N}>;
  var au: array<f32, ${BLOCKED_MAX_N}>;
  if (r < rows) {
  {
${normed(over(d.loop, 'wg', 'ag'), norm)}
  }
  {
${normed(over(d.loop, 'wu', 'au'), norm)}
  }
  }${tail(['ag', 'au'], 4, ([g, u]) => `let g = ${g ?? ''};
      let u = ${u ?? ''};
      out[o] = (g / (1.0 + exp(-g))) * u;`)}`;
}

/**
 * The q, k and v products of one input in one dispatch: workgroups [0, a) take rows of W₀ into out₀, [a, a + b)
 * rows of W₁ into out₁, the rest rows of W₂ into out₂ (a, b = ⌈rows₀/8⌉, ⌈rows₁/8⌉), each with the matvec's
 * own loop and reduction, so each output equals its separate product bit for bit. Bindings: 0 P, 1–3 the
 * weights, 4 x, (5 norm weight,) then the outputs; parameters as the matvec, with 5 rows₁ and 6 rows₂.
 */
function qkvShader(dtype: string, norm: boolean): string {
  const d = LOOPS[dtype] as DtypeLoop;
  const ws = ['w0', 'w1', 'w2'];
  const loops = ws.map((w, k) => `${k === 0 ? '' : ' else '}if (seg == ${k}u) {\n${normed(over(d.loop, w, 'acc'), norm)}\n  }`).join('');
  const o = norm ? 6 : 5;
  return /* wgsl */ `@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;
${ws.map((w, k) => `@group(0) @binding(${k + 1}) var<storage, read> ${w}: ${d.decl};`).join('\n')}
${inputs(4, norm)}
${[0, 1, 2].map((k) => `@group(0) @binding(${k + o}) var<storage, read_write> o${k}: array<f32>;`).join('\n')}
${d.shared}${ws.map((w) => over(d.helpers, w, 'acc')).join('')}
var<workgroup> red: array<f32, 2048>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let cols = P[0].y; let n = P[0].z; let tb = P[1].x;
  let segA = (P[0].x + 7u) / 8u; let segB = (P[1].y + 7u) / 8u;
  let wg = wid.y * P[3].w + wid.x;
  let seg = select(select(2u, 1u, wg < segA + segB), 0u, wg < segA);
  let rows = select(select(P[1].z, P[1].y, seg == 1u), P[0].x, seg == 0u);
  let lane = lid % 32u;
  let r = (wg - select(select(segA + segB, segA, seg == 1u), 0u, seg == 0u)) * 8u + lid / 32u;${norm ? NORM_PROLOGUE : ''}
  var acc: array<f32, ${BLOCKED_MAX_N}>;
  if (r < rows) {
  ${loops}
  }${tail(['acc'], 8, ([v]) => `let v = ${v ?? ''};
      if (seg == 0u) { o0[o] = v; } else if (seg == 1u) { o1[o] = v; } else { o2[o] = v; }`)}`;
}

const byDtype = (f: (dtype: string) => string): Readonly<Record<string, string>> => Object.fromEntries(Object.keys(LOOPS).map((d) => [d, f(d)]));

/** Weight dtypes with a blocked matrix-vector kernel, and its source. */
export const BLOCKED_MATVEC = byDtype(matvecShader);

/** The fused gate/up/SwiGLU product by dtype (both weights of that dtype), without and with the input norm. */
export const MATVEC_GLU = byDtype((d) => gluShader(d, false));
export const MATVEC_GLU_NORM = byDtype((d) => gluShader(d, true));

/** The fused q/k/v product by dtype (all three weights of that dtype), without and with the input norm. */
export const MATVEC_QKV = byDtype((d) => qkvShader(d, false));
export const MATVEC_QKV_NORM = byDtype((d) => qkvShader(d, true));
