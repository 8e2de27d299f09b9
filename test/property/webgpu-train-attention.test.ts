import { describe, expect, test } from 'vitest';
import { type Bindable, bufferIds, type CommandRecorder, GPU_USAGE, recorders } from '../../src/kernels/webgpu/encoder.js';
import { type PackedAttentionShape, recordPackedAttention, recordPackedAttentionBack } from '../../src/kernels/webgpu/train-attention.js';
import { attention } from '../../src/train/autograd/attention.js';
import { Tape, Var } from '../../src/train/autograd/tape.js';
import { randomF32 } from './kernels-helpers.js';
import { f32Bits, gpu, noGpuReason, U32 } from './webgpu-helpers.js';

/**
 * The packed-micro-batch attention of a training step (src/kernels/webgpu/train-attention.ts): rows of
 * several examples back to back, each attending causally within its own example. Forward and backward are
 * compared with the CPU autograd (src/train/autograd/attention.ts through a Tape) run on each example alone,
 * the lse with a float64 host computation; a changed example leaves the others' results bit-identical.
 */

interface Case {
  lens: number[];
  heads: number;
  kvHeads: number;
  d: number;
  seed: number;
}

interface Data {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dOut: Float32Array;
}

interface Result {
  out: Float32Array;
  lse: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

const rows = (c: Case): number => c.lens.reduce((a, b) => a + b, 0);
const shapeOf = (c: Case): PackedAttentionShape => ({ n: rows(c), heads: c.heads, kvHeads: c.kvHeads, headDim: c.d, scale: 1 / Math.sqrt(c.d) });

/** seg[t] (first row of t's example) and segEnd[t] (one past its last). */
function segments(lens: readonly number[]): { seg: Uint32Array; segEnd: Uint32Array } {
  const n = lens.reduce((a, b) => a + b, 0);
  const seg = new Uint32Array(n);
  const segEnd = new Uint32Array(n);
  let o = 0;
  for (const len of lens) {
    seg.fill(o, o, o + len);
    segEnd.fill(o + len, o, o + len);
    o += len;
  }
  return { seg, segEnd };
}

function randomData(c: Case): Data {
  const n = rows(c);
  return {
    q: randomF32(n * c.heads * c.d, c.seed, 2),
    k: randomF32(n * c.kvHeads * c.d, c.seed + 1),
    v: randomF32(n * c.kvHeads * c.d, c.seed + 2),
    dOut: randomF32(n * c.heads * c.d, c.seed + 3),
  };
}

/** Storage buffers on the test device, released after each run. */
function deviceBuffers(device: GPUDevice): { upload: (a: Float32Array | Uint32Array) => Bindable; alloc: (floats: number) => Bindable; all: Bindable[] } {
  const all: Bindable[] = [];
  const make = (bytes: number, data?: Float32Array | Uint32Array): Bindable => {
    const buffer = device.createBuffer({ size: Math.max(16, bytes), usage: GPU_USAGE.STORAGE | GPU_USAGE.COPY_SRC | GPU_USAGE.COPY_DST, mappedAtCreation: data !== undefined });
    if (data) {
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      buffer.unmap();
    }
    const b = { buffer, id: bufferIds.next() };
    all.push(b);
    return b;
  };
  return { upload: (a) => make(a.byteLength, a), alloc: (floats) => make(floats * 4), all };
}

/** Copies each buffer's first `floats[i]` floats to a MAP_READ staging buffer, submits, and maps them. */
async function readBack(rec: CommandRecorder, bufs: readonly Bindable[], floats: readonly number[]): Promise<Float32Array[]> {
  const stagings = bufs.map((b, i) => {
    const bytes = (floats[i] ?? 0) * 4;
    const staging = rec.device.createBuffer({ size: Math.max(16, bytes), usage: GPU_USAGE.MAP_READ | GPU_USAGE.COPY_DST });
    rec.commands().copyBufferToBuffer(b.buffer, 0, staging, 0, bytes);
    return staging;
  });
  rec.flush();
  return Promise.all(stagings.map(async (s, i) => {
    await s.mapAsync(GPU_USAGE.MAP_READ);
    const out = new Float32Array(s.getMappedRange().slice(0, (floats[i] ?? 0) * 4));
    s.unmap();
    s.destroy();
    return out;
  }));
}

/** Forward and backward on the GPU: out, lse, dq, dk, dv. */
async function onGpu(c: Case, x: Data): Promise<Result> {
  const dev = (gpu as NonNullable<typeof gpu>).device;
  const rec = recorders.open(dev);
  const io = deviceBuffers(dev);
  const s = shapeOf(c);
  const { seg, segEnd } = segments(c.lens);
  const [q, k, v, dOut, sg, se] = [io.upload(x.q), io.upload(x.k), io.upload(x.v), io.upload(x.dOut), io.upload(seg), io.upload(segEnd)];
  const qn = s.n * c.heads * c.d;
  const kn = s.n * c.kvHeads * c.d;
  const [out, lse, scratch, dq, dk, dv] = [io.alloc(qn), io.alloc(s.n * c.heads), io.alloc(s.n * c.heads), io.alloc(qn), io.alloc(kn), io.alloc(kn)];
  recordPackedAttention(rec, q, k, v, sg, s, out, lse);
  recordPackedAttentionBack(rec, q, k, v, out, lse, dOut, sg, se, s, scratch, dq, dk, dv);
  const got = await readBack(rec, [out, lse, dq, dk, dv], [qn, s.n * c.heads, qn, kn, kn]);
  expect(rec.firstError).toBeUndefined();
  for (const b of io.all) b.buffer.destroy();
  const [o, l, gq, gk, gv] = got as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  return { out: o, lse: l, dq: gq, dk: gk, dv: gv };
}

/** The CPU autograd on each example alone (positions 0..len−1), assembled back into packed rows. */
function onCpu(c: Case, x: Data): Omit<Result, 'lse'> {
  const n = rows(c);
  const [qw, kw] = [c.heads * c.d, c.kvHeads * c.d];
  const r = { out: new Float32Array(n * qw), dq: new Float32Array(n * qw), dk: new Float32Array(n * kw), dv: new Float32Array(n * kw) };
  let o = 0;
  for (const len of c.lens) {
    const tape = new Tape(true);
    const [q, k, v] = [new Var(x.q.slice(o * qw, (o + len) * qw), true), new Var(x.k.slice(o * kw, (o + len) * kw), true), new Var(x.v.slice(o * kw, (o + len) * kw), true)];
    const out = attention(tape, q, k, v, { n: len, heads: c.heads, kvHeads: c.kvHeads, headDim: c.d });
    tape.backward(out, x.dOut.slice(o * qw, (o + len) * qw));
    r.out.set(out.value, o * qw);
    r.dq.set(q.g(), o * qw);
    r.dk.set(k.g(), o * kw);
    r.dv.set(v.g(), o * kw);
    o += len;
  }
  return r;
}

/**
 * Float64 lse per (t, h) and the absolute-value companions the tolerances scale with: Aout = Σ p|v|,
 * a_j = p_j·(Σ|dO·v_j| + Σ|dO|·Aout) (≥ |ds_j|, and bounds the error of dp_j and D), Adq = scale·Σ_j a_j|k_j|,
 * Adk = scale·Σ_{h,t} a|q_t|, Adv = Σ_{h,t} p|dO_t|; E = max_t,j scale·Σ|q_t·k_j| (the scores' magnitude).
 */
function companions(c: Case, x: Data): { lse: Float64Array; aout: Float64Array; adq: Float64Array; adk: Float64Array; adv: Float64Array; E: number } {
  const n = rows(c);
  const { seg } = segments(c.lens);
  const { d, heads, kvHeads } = c;
  const scale = 1 / Math.sqrt(d);
  const r = { lse: new Float64Array(n * heads), aout: new Float64Array(n * heads * d), adq: new Float64Array(n * heads * d), adk: new Float64Array(n * kvHeads * d), adv: new Float64Array(n * kvHeads * d), E: 0 };
  const at = (a: Float32Array, i: number): number => a[i] as number;
  for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / (heads / kvHeads));
    const [qo, j0] = [(t * heads + h) * d, seg[t] as number];
    const ko = (j: number): number => (j * kvHeads + g) * d;
    const s = Array.from({ length: t - j0 + 1 }, (_, i) => {
      const qk = Array.from({ length: d }, (_, e) => at(x.q, qo + e) * at(x.k, ko(j0 + i) + e));
      r.E = Math.max(r.E, scale * qk.reduce((a, v) => a + Math.abs(v), 0));
      return scale * qk.reduce((a, v) => a + v, 0);
    });
    const m = Math.max(...s);
    const lse = m + Math.log(s.reduce((a, v) => a + Math.exp(v - m), 0));
    r.lse[t * heads + h] = lse;
    const p = s.map((v) => Math.exp(v - lse));
    for (let e = 0; e < d; e++) r.aout[qo + e] = p.reduce((a, pj, i) => a + pj * Math.abs(at(x.v, ko(j0 + i) + e)), 0);
    let dabs = 0;
    for (let e = 0; e < d; e++) dabs += Math.abs(at(x.dOut, qo + e)) * (r.aout[qo + e] as number);
    p.forEach((pj, i) => {
      const j = j0 + i;
      let bv = 0;
      for (let e = 0; e < d; e++) bv += Math.abs(at(x.dOut, qo + e) * at(x.v, ko(j) + e));
      const aj = pj * (bv + dabs);
      for (let e = 0; e < d; e++) {
        r.adq[qo + e] = (r.adq[qo + e] as number) + scale * aj * Math.abs(at(x.k, ko(j) + e));
        r.adk[ko(j) + e] = (r.adk[ko(j) + e] as number) + scale * aj * Math.abs(at(x.q, qo + e));
        r.adv[ko(j) + e] = (r.adv[ko(j) + e] as number) + pj * Math.abs(at(x.dOut, qo + e));
      }
    });
  }
  return r;
}

/** Largest |a_i − b_i| / bound_i (≤ 1 passes), with the index of the worst element. */
function worst(a: Float32Array, b: Float32Array | Float64Array, bound: (i: number) => number): { ratio: number; at: number } {
  expect(a.length).toBe(b.length);
  let w = { ratio: 0, at: -1 };
  for (let i = 0; i < a.length; i++) {
    const ratio = Math.abs((a[i] as number) - (b[i] as number)) / bound(i);
    if (!(ratio <= w.ratio)) w = { ratio, at: i };
  }
  return w;
}

/**
 * Tolerances (float32 reassociation, u = 2⁻²⁴; GPU and CPU each within one bound, so a difference within two):
 * a score s_j is a d-term dot, off by ≤ (d + 2)·u·E; p_j = exp(s_j − lse) then carries ≤ 2(d + 2)·u·E from
 * s_j and lse, plus WGSL's exp (3 + 2|x| ulp, |x| ≤ 2E) and the L-term running sum with its rescalings:
 * relP = (2(d + 2)E + 4E + 2L + 24)·u. out = Σ p·v adds an L-term sum: (relP + (L + 2)u)·Aout. ds = p·(dp − D)
 * carries relP, the d-term dots dp and D and D's share of out's error: relDs = 2·relP + (L + d + 6)u of a_j.
 * dq adds an L-term sum ((relDs + (L + 3)u)·Adq); dk and dv sum over rep·L terms (relDs or relP, + (rep·L + 3)u).
 * lse (against float64, one side): (d + 2)·u·E from the scores, the sum's (2L + 8)u, WGSL log's 2⁻²¹ near 1
 * and rounding of |lse|, doubled for the exp/log ulp allowance: u·(2(d + 2)E + 2L + 32 + 2|lse|).
 */
function expectClose(c: Case, got: Result, cpu: Omit<Result, 'lse'>, f64: ReturnType<typeof companions>): void {
  const L = Math.max(...c.lens);
  const rep = c.heads / c.kvHeads;
  const relP = (2 * (c.d + 2) * f64.E + 4 * f64.E + 2 * L + 24) * U32;
  const relDs = 2 * relP + (L + c.d + 6) * U32;
  const tiny = 1e-30;
  const checks: [string, Float32Array, Float32Array | Float64Array, (i: number) => number][] = [
    ['out', got.out, cpu.out, (i) => 2 * (relP + (L + 2) * U32) * (f64.aout[i] as number) + tiny],
    ['dq', got.dq, cpu.dq, (i) => 2 * (relDs + (L + 3) * U32) * (f64.adq[i] as number) + tiny],
    ['dk', got.dk, cpu.dk, (i) => 2 * (relDs + (rep * L + 3) * U32) * (f64.adk[i] as number) + tiny],
    ['dv', got.dv, cpu.dv, (i) => 2 * (relP + (rep * L + 3) * U32) * (f64.adv[i] as number) + tiny],
    ['lse', got.lse, f64.lse, (i) => (2 * (c.d + 2) * f64.E + 2 * L + 32 + 2 * Math.abs(f64.lse[i] as number)) * U32],
  ];
  for (const [name, a, b, bound] of checks) {
    const w = worst(a, b, bound);
    expect(w.ratio, `${name}[${w.at}]: gpu ${a[w.at]} vs ${b[w.at]} (bound ${bound(w.at)})`).toBeLessThanOrEqual(1);
  }
}

const CASES: Case[] = [
  { lens: [37], heads: 4, kvHeads: 2, d: 16, seed: 11 },
  { lens: [5, 1, 17], heads: 6, kvHeads: 3, d: 64, seed: 12 },
  { lens: [5, 1, 17], heads: 3, kvHeads: 3, d: 16, seed: 13 },
  { lens: [40, 1, 70, 9], heads: 4, kvHeads: 1, d: 64, seed: 14 },
  { lens: [33, 2, 1], heads: 2, kvHeads: 2, d: 18, seed: 15 },
  { lens: [12, 25], heads: 4, kvHeads: 2, d: 128, seed: 16 },
];

describe.skipIf(!gpu)(`WebGPU packed training attention vs the CPU autograd per example${noGpuReason}`, () => {
  test.each(CASES)('[ob:webgpu-train-packed-attention] lens $lens, heads $heads / kvHeads $kvHeads, headDim $d: out, lse, dq, dk, dv within the float32 bounds', async (c) => {
    const x = randomData(c);
    expectClose(c, await onGpu(c, x), onCpu(c, x), companions(c, x));
  });

  test('[ob:webgpu-train-packed-isolation] rows never see another example: new q, k, v, dOut in the middle example leave the others bit-identical', async () => {
    const c: Case = { lens: [29, 10, 40], heads: 4, kvHeads: 2, d: 16, seed: 21 };
    const x = randomData(c);
    const [qw, kw] = [c.heads * c.d, c.kvHeads * c.d];
    const [a, b] = [29, 39];
    const changed: Data = { q: x.q.slice(), k: x.k.slice(), v: x.v.slice(), dOut: x.dOut.slice() };
    // large keys: a masked score that leaked into a neighbour's running max would underflow its softmax
    changed.q.set(randomF32((b - a) * qw, 99, 3), a * qw);
    changed.k.set(randomF32((b - a) * kw, 98, 60), a * kw);
    changed.v.set(randomF32((b - a) * kw, 97, 3), a * kw);
    changed.dOut.set(randomF32((b - a) * qw, 96, 3), a * qw);
    const [r0, r1] = [await onGpu(c, x), await onGpu(c, changed)];
    const width: Record<keyof Result, number> = { out: qw, lse: c.heads, dq: qw, dk: kw, dv: kw };
    for (const key of Object.keys(width) as (keyof Result)[]) {
      const w = width[key];
      const outside = (r: Result): number[] => [...f32Bits(r[key].subarray(0, a * w)), ...f32Bits(r[key].subarray(b * w))];
      expect(outside(r1), `${key} outside the changed example`).toEqual(outside(r0));
      expect(f32Bits(r1[key].subarray(a * w, b * w)), `${key} of the changed example`).not.toEqual(f32Bits(r0[key].subarray(a * w, b * w)));
    }
  });

  test('a shape the kernels do not take is a RangeError; n = 0 records nothing', () => {
    const rec = recorders.open((gpu as NonNullable<typeof gpu>).device);
    const b = deviceBuffers(rec.device).alloc(4);
    const fwd = (s: Partial<PackedAttentionShape>): void => recordPackedAttention(rec, b, b, b, b, { n: 2, heads: 4, kvHeads: 2, headDim: 16, scale: 0.25, ...s }, b, b);
    expect(() => fwd({ kvHeads: 3 })).toThrow(/kvHeads \(3\) must divide heads \(4\)/);
    expect(() => fwd({ headDim: 17 })).toThrow(RangeError);
    expect(() => fwd({ headDim: 258 })).toThrow(RangeError);
    expect(() => fwd({ scale: Number.NaN })).toThrow(RangeError);
    const before = rec.counters.dispatches;
    fwd({ n: 0 });
    recordPackedAttentionBack(rec, b, b, b, b, b, b, b, b, { n: 0, heads: 4, kvHeads: 2, headDim: 16, scale: 0.25 }, b, b, b, b);
    expect(rec.counters.dispatches).toBe(before);
    b.buffer.destroy();
  });
});
