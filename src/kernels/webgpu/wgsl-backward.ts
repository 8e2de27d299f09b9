/**
 * WGSL sources of the training backward kernels (src/kernels/webgpu/training.ts). Parameters come from the
 * uniform `P` (16 u32 words, floats bit-cast); word 15 (P[3].w) is the number of workgroups along x, so
 * per-row kernels find their row as wid.y · P[3].w + wid.x.
 */

const UNIFORM = '@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 4>;';

/**
 * Tree reduction of `buf` (256 lanes) by `op(a, b)`; every lane then reads buf[0]. Two reductions in one
 * kernel use two arrays (see treeReduce in wgsl-ops.ts: Mesa 22 llvmpipe under OpenGL ES reorders the read).
 */
function reduce(buf: string, op: (a: string, b: string) => string): string {
  return `for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) { ${buf}[lid] = ${op(`${buf}[lid]`, `${buf}[lid + s]`)}; }
    workgroupBarrier();
  }`;
}

const SUM = (a: string, b: string): string => `${a} + ${b}`;

/**
 * out[i, j] = Σ_k A(i, k)·B(k, j) with A(i, k) = a[i·P3 + k·P4] and B(k, j) = b[k·P5 + j·P6]; P0 = I, P1 = J,
 * P2 = K. 16×16 outputs per workgroup, A and B staged through 16×16 tiles (zero outside the matrix).
 * dX = dY·W (A = dY, B = W) and dW = dYᵀ·X (A = dYᵀ by strides, B = X) are both this one product.
 */
export const STRIDED_MATMUL = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let I = P[0].x; let J = P[0].y; let K = P[0].z;
  let sai = P[0].w; let sak = P[1].x; let sbk = P[1].y; let sbj = P[1].z;
  let i = wid.y * 16u + l.y;
  let j = wid.x * 16u + l.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < K; k0 = k0 + 16u) {
    let ka = k0 + l.x;
    let kb = k0 + l.y;
    var va = 0.0;
    var vb = 0.0;
    if (i < I && ka < K) { va = a[i * sai + ka * sak]; }
    if (kb < K && j < J) { vb = b[kb * sbk + j * sbj]; }
    ta[l.y][l.x] = va;
    tb[l.y][l.x] = vb;
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) { acc = acc + ta[l.y][kk] * tb[kk][l.x]; }
    workgroupBarrier();
  }
  if (i < I && j < J) { out[i * J + j] = acc; }
}
`;

/**
 * RMSNorm backward, one workgroup per row t of x[n, dim]: r = 1/√(Σx²/dim + eps), dot = Σ w·dy·x,
 * dx = r·w·dy − (r³·dot/dim)·x; rs[t] = r for the weight gradient. P0 n, P1 dim, P2 eps bits.
 */
export const RMSNORM_BACK_X = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> rs: array<f32>;
var<workgroup> red: array<vec2<f32>, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = P[0].x; let dim = P[0].y; let eps = bitcast<f32>(P[0].z);
  let t = wid.y * P[3].w + wid.x;
  if (t >= n) { return; }
  let o = t * dim;
  var acc = vec2<f32>(0.0, 0.0);
  for (var i = lid; i < dim; i = i + 256u) {
    let xi = x[o + i];
    acc = acc + vec2<f32>(xi * xi, w[i] * dy[o + i] * xi);
  }
  red[lid] = acc;
  workgroupBarrier();
  ${reduce('red', SUM)}
  let tot = red[0];
  let r = 1.0 / sqrt(tot.x / f32(dim) + eps);
  let k = r * r * r * tot.y / f32(dim);
  for (var i = lid; i < dim; i = i + 256u) { dx[o + i] = r * w[i] * dy[o + i] - k * x[o + i]; }
  if (lid == 0u) { rs[t] = r; }
}
`;

/** dWeight[i] = Σ_t dy[t, i]·x[t, i]·rs[t], one invocation per i. P0 n, P1 dim. */
export const RMSNORM_BACK_W = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> rs: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * P[3].w * 256u + gid.x;
  let n = P[0].x; let dim = P[0].y;
  if (i >= dim) { return; }
  var acc = 0.0;
  for (var t = 0u; t < n; t = t + 1u) { acc = acc + dy[t * dim + i] * x[t * dim + i] * rs[t]; }
  dw[i] = acc;
}
`;

/**
 * Softmax cross-entropy backward, one workgroup per row t of logits[n, V]: with y = targets[t] ≠ −100,
 * lse = max + log Σ exp(z − max), d[t, k] = exp(z_k − lse)·inv − [k = y]·inv and rowLoss[t] = lse − z_y;
 * an ignored row gets d = 0 and rowLoss = 0. P0 n, P1 V, P2 inv (= 1/count) bits.
 */
export const SOFTMAX_CE_BACK = /* wgsl */ `${UNIFORM}
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> d: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>;
var<workgroup> redMax: array<f32, 256>;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = P[0].x; let V = P[0].y; let inv = bitcast<f32>(P[0].z);
  let t = wid.y * P[3].w + wid.x;
  if (t >= n) { return; }
  let o = t * V;
  var m = bitcast<f32>(0xff7fffffu);
  for (var k = lid; k < V; k = k + 256u) { m = max(m, z[o + k]); }
  redMax[lid] = m;
  workgroupBarrier();
  ${reduce('redMax', (a, b) => `max(${a}, ${b})`)}
  let mx = redMax[0];
  workgroupBarrier();
  var s0 = 0.0;
  for (var k = lid; k < V; k = k + 256u) { s0 = s0 + exp(z[o + k] - mx); }
  red[lid] = s0;
  workgroupBarrier();
  ${reduce('red', SUM)}
  let lse = mx + log(red[0]);
  // The target is read after the barriers: a branch on storage data before them breaks uniformity.
  let y = targets[t];
  let keep = select(1.0, 0.0, y == -100);
  for (var k = lid; k < V; k = k + 256u) {
    d[o + k] = keep * (exp(z[o + k] - lse) * inv - select(0.0, inv, i32(k) == y));
  }
  if (lid == 0u) { rowLoss[t] = select(lse - z[o + u32(max(y, 0))], 0.0, y == -100); }
}
`;
