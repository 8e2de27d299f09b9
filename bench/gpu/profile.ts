/**
 * Where a WebGPU decode step's time goes, kernel class by kernel class, at the synthetic ~1B Llama's shapes
 * (bench/gpu/synthetic.ts): each item is recorded `--reps` times back to back through the backend, then
 * submitted and awaited; one JSON line per item with microseconds per call from recording to completion
 * (`us`) and for the recording alone (`host_us`).
 * - matvec:<tensor>:n=<n>: the product the decoder runs for that weight with n rows (n = 1 single sequence,
 *   n = B in a batched step; the blocked kernel takes up to 32 rows per dispatch), with the weight GB/s it reaches.
 * - row-attention: one row's attention part of a batched step for one layer, as batchCore records it (three
 *   copies in, ropeKv, kvStore, attention at position --pos, one copy out); its parts alone after it.
 * - fused:qkv / fused:glu / fused:attendRow: the fused decode kernels (q, k, v in one dispatch; gate, up and
 *   SwiGLU in one; one row's RoPE, KV writes and attention in one), at n = 1, 8, 32 token rows.
 * - add: a small dispatch (the floor of any dispatch), and copy+add: the same with a 4-float copy before each,
 *   which ends and restarts the compute pass, as the per-row copies do.
 *   node profile.mjs [--reps 200] [--pos 96] [--matvec blocked|scalar] [--dawn-features …]
 */
import { benchGpu } from './gpu-flags.js';
import { createWebGpuBackend, type GpuBuf, type GpuWeight, type WebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { flag, gpuSyntheticConfig, randomWeights } from './synthetic.js';

const reps = Number(flag('reps', '200'));
const pos = Number(flag('pos', '96'));
const c = gpuSyntheticConfig(1, false);
const H = c.hidden_size;
const kvDim = c.num_kv_heads * c.head_dim;

async function timeIt(be: WebGpuBackend, fn: () => void): Promise<{ us: number; host_us: number }> {
  fn();
  await be.finish();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  const t1 = performance.now();
  await be.finish();
  const r = (v: number): number => Math.round(v * 100) / 100;
  return { us: r(((performance.now() - t0) * 1000) / reps), host_us: r(((t1 - t0) * 1000) / reps) };
}

function line(item: string, extra: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'webgpu-profile', item, ...extra })}\n`);
}

async function matvecs(be: WebGpuBackend): Promise<void> {
  const shapes: [string, DType, number, number][] = [
    ['q_proj', 'Q4_K', H, H], ['k_proj', 'Q4_K', kvDim, H], ['gate_proj', 'Q4_K', c.intermediate_size, H],
    ['down_proj', 'Q6_K', H, c.intermediate_size], ['lm_head', 'Q6_K', c.vocab_size, H],
  ];
  const x = be.upload(new Float32Array(32 * c.intermediate_size).fill(0.01));
  const out = be.alloc(32 * c.intermediate_size);
  for (const [name, dtype, rows, cols] of shapes) {
    const w = be.prepareWeight({ dtype, rows, cols, data: randomWeights(dtype, rows * cols) });
    const bytes = ((rows * cols) / DTYPES[dtype].blockSize) * DTYPES[dtype].blockBytes;
    for (const n of [1, 2, 8, 32]) {
      const t = await timeIt(be, () => be.matmul(w, x, n, out));
      line(`matvec:${name}:n=${n}`, { dtype, rows, cols, weight_bytes: bytes, ...t, weight_gb_per_s: Math.round(bytes / t.us / 100) / 10 });
    }
    be.releaseWeight(w);
  }
}

async function rowAttention(be: WebGpuBackend): Promise<void> {
  const cap = pos + 1;
  const s = { q: be.alloc(H), k: be.alloc(kvDim), v: be.alloc(kvDim), att: be.alloc(H) };
  const row = { q: be.alloc(H), k: be.alloc(kvDim), v: be.alloc(kvDim), att: be.alloc(H) };
  const kc = be.alloc(kvDim * cap);
  const vc = be.alloc(kvDim * cap);
  const shape = { n: 1, startPos: pos, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, capacity: cap };
  const copyIn = (): void => {
    be.copy(s.q, 0, row.q, 0, H);
    be.copy(s.k, 0, row.k, 0, kvDim);
    be.copy(s.v, 0, row.v, 0, kvDim);
  };
  const ropeKv = (): void => be.ropeKv(row.q, row.k, kc, shape, c.rope_theta);
  const kvStore = (): void => be.kvStore(vc, row.v, 1, c.num_kv_heads, c.head_dim, pos, cap);
  const attention = (): void => be.attention(row.q, kc, vc, shape, row.att);
  const copyOut = (): void => be.copy(row.att, 0, s.att, 0, H);
  line('row-attention', await timeIt(be, () => {
    copyIn();
    ropeKv();
    kvStore();
    attention();
    copyOut();
  }));
  line('row-attention:copies', await timeIt(be, () => {
    copyIn();
    copyOut();
  }));
  line('row-attention:ropeKv', await timeIt(be, ropeKv));
  line('row-attention:kvStore', await timeIt(be, kvStore));
  line('row-attention:attention', await timeIt(be, attention));
  line('row-attention:dispatches-only', await timeIt(be, () => {
    ropeKv();
    kvStore();
    attention();
  }));
}

/** The fused decode kernels: q/k/v in one dispatch, gate/up/SwiGLU in one, and one row's attention step. */
async function fused(be: WebGpuBackend): Promise<void> {
  const w = (rows: number, cols: number): GpuWeight => be.prepareWeight({ dtype: 'Q4_K', rows, cols, data: randomWeights('Q4_K', rows * cols) });
  const [q, k, v, gate, up] = [w(H, H), w(kvDim, H), w(kvDim, H), w(c.intermediate_size, H), w(c.intermediate_size, H)];
  const x = be.upload(new Float32Array(32 * H).fill(0.01));
  const [oq, ok, ov, og, ou] = [be.alloc(32 * H), be.alloc(32 * kvDim), be.alloc(32 * kvDim), be.alloc(32 * c.intermediate_size), be.alloc(32 * c.intermediate_size)];
  const qkvBytes = ((H * H + 2 * kvDim * H) / 256) * 144;
  const gluBytes = ((2 * c.intermediate_size * H) / 256) * 144;
  for (const n of [1, 8, 32]) {
    const t = await timeIt(be, () => be.matmul3(q, k, v, x, n, oq, ok, ov));
    line(`fused:qkv:n=${n}`, { ...t, weight_gb_per_s: Math.round(qkvBytes / t.us / 100) / 10 });
    const g = await timeIt(be, () => be.matmulSwiglu(gate, up, x, n, og, ou));
    line(`fused:glu:n=${n}`, { ...g, weight_gb_per_s: Math.round(gluBytes / g.us / 100) / 10 });
  }
  const cap = pos + 1;
  const [kc, vc] = [be.alloc(kvDim * cap), be.alloc(kvDim * cap)];
  const shape = { n: 1, startPos: pos, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, capacity: cap };
  line('fused:attendRow', await timeIt(be, () => be.attendRow(oq, ok, ov, 0, kc, vc, shape, c.rope_theta, og)));
  for (const m of [q, k, v, gate, up]) be.releaseWeight(m);
}

async function floors(be: WebGpuBackend): Promise<void> {
  const a: GpuBuf = be.alloc(H);
  const b: GpuBuf = be.alloc(H);
  line('add', await timeIt(be, () => be.add(a, b, H, a)));
  line('copy+add', await timeIt(be, () => {
    be.copy(b, 0, a, H - 4, 4);
    be.add(a, b, H, a);
  }));
}

async function main(): Promise<void> {
  const gpu = await benchGpu();
  const be = createWebGpuBackend(gpu, { blockedMatvec: flag('matvec', 'blocked') === 'blocked', submitEvery: Number(flag('submit-every', '40')) });
  line('device', { device: gpu.description, reps, pos });
  await floors(be);
  await rowAttention(be);
  await fused(be);
  await matvecs(be);
  line('done', { device_error: be.firstError ?? null });
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`profile bench: ${(err as Error).message}\n`);
  process.exit(1);
});
