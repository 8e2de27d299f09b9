import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AttentionShape, SlotBuffers, SlotPlace } from '../../src/kernels/types.js';
import { createWebGpuBackend, type GpuBuf } from '../../src/kernels/webgpu/backend.js';
import { ATTEND_ROWS_MAX } from '../../src/kernels/webgpu/wgsl-attention.js';
import { randomF32 } from './kernels-helpers.js';
import { f32Bits, gpu, noGpuReason } from './webgpu-helpers.js';

/**
 * Backend.attendRows (one dispatch for every row of a batched decode step, each row in its own cache slot
 * of one allocation) against Backend.attendRow run on each row alone with that slot's cache in a buffer of
 * its own. Same WGSL text, same float operations: every output row and every cache slot must be
 * bit-identical, which is what makes a batched step's rows equal one-token forwards (batch invariance).
 * Also the slot views themselves (Backend.allocSlots): each slot reads and writes only its own range, and a
 * copy between two slots of one allocation (which WebGPU cannot do in one copy) moves the exact floats.
 */

const be = gpu ? createWebGpuBackend(gpu) : undefined;

interface Case {
  shape: AttentionShape;
  slots: number;
  places: SlotPlace[];
  seed: number;
}

/** Runs attendRows over slot caches filled with random floats; returns the output and every slot's K and V. */
async function batched(c: Case): Promise<{ att: Float32Array; k: Float32Array[]; v: Float32Array[] }> {
  const g = be as NonNullable<typeof be>;
  const { shape: s, places, seed } = c;
  const n = places.length;
  const slotLen = s.kvHeads * s.capacity * s.headDim;
  const [ks, vs] = [g.allocSlots(slotLen, c.slots), g.allocSlots(slotLen, c.slots)] as [SlotBuffers<GpuBuf>, SlotBuffers<GpuBuf>];
  for (let i = 0; i < c.slots; i++) {
    g.copy(g.upload(randomF32(slotLen, seed + 100 + i)), 0, ks.slots[i] as GpuBuf, 0, slotLen);
    g.copy(g.upload(randomF32(slotLen, seed + 200 + i)), 0, vs.slots[i] as GpuBuf, 0, slotLen);
  }
  const [q, k, v] = [g.upload(randomF32(n * s.heads * s.headDim, seed)), g.upload(randomF32(n * s.kvHeads * s.headDim, seed + 1)), g.upload(randomF32(n * s.kvHeads * s.headDim, seed + 2))];
  const att = g.alloc(n * s.heads * s.headDim);
  g.attendRows(q, k, v, n, ks, vs, places, s, 10000, att);
  const read = (b: GpuBuf): Promise<Float32Array> => g.readAsync(b, 0, slotLen);
  return { att: await g.readAsync(att, 0, att.length), k: await Promise.all(ks.slots.map(read)), v: await Promise.all(vs.slots.map(read)) };
}

/** Row i alone through attendRow, its slot's cache in plain buffers filled as `batched` fills that slot. */
async function alone(c: Case, i: number): Promise<{ att: Float32Array; k: Float32Array; v: Float32Array }> {
  const g = be as NonNullable<typeof be>;
  const { shape: s, places, seed } = c;
  const n = places.length;
  const { slot, pos } = places[i] as SlotPlace;
  const slotLen = s.kvHeads * s.capacity * s.headDim;
  const [kc, vc] = [g.upload(randomF32(slotLen, seed + 100 + slot)), g.upload(randomF32(slotLen, seed + 200 + slot))];
  const [q, k, v] = [g.upload(randomF32(n * s.heads * s.headDim, seed)), g.upload(randomF32(n * s.kvHeads * s.headDim, seed + 1)), g.upload(randomF32(n * s.kvHeads * s.headDim, seed + 2))];
  const att = g.alloc(n * s.heads * s.headDim);
  g.attendRow(q, k, v, i, kc, vc, { ...s, n: 1, startPos: pos }, 10000, att);
  const qDim = s.heads * s.headDim;
  return { att: (await g.readAsync(att, i * qDim, qDim)), k: await g.readAsync(kc, 0, slotLen), v: await g.readAsync(vc, 0, slotLen) };
}

/** n rows in distinct slots (a batched step's caches are distinct), at positions below the capacity. */
function places(n: number, slots: number, capacity: number, seed: number): SlotPlace[] {
  const order = Array.from({ length: slots }, (_, i) => i).sort((a, b) => ((a * 7919 + seed) % 101) - ((b * 7919 + seed) % 101));
  return order.slice(0, n).map((slot, i) => ({ slot, pos: (seed + i * 37) % capacity }));
}

async function expectRowsAlone(c: Case): Promise<void> {
  const got = await batched(c);
  const qDim = c.shape.heads * c.shape.headDim;
  const touched = new Set(c.places.map((p) => p.slot));
  for (const [i, p] of c.places.entries()) {
    const want = await alone(c, i);
    expect(f32Bits(got.att.subarray(i * qDim, (i + 1) * qDim)), `row ${i} output`).toEqual(f32Bits(want.att));
    expect(f32Bits(got.k[p.slot] as Float32Array), `row ${i} key slot ${p.slot}`).toEqual(f32Bits(want.k));
    expect(f32Bits(got.v[p.slot] as Float32Array), `row ${i} value slot ${p.slot}`).toEqual(f32Bits(want.v));
  }
  const slotLen = c.shape.kvHeads * c.shape.capacity * c.shape.headDim;
  for (let slot = 0; slot < c.slots; slot++) {
    if (touched.has(slot)) continue;
    expect(f32Bits(got.k[slot] as Float32Array), `untouched slot ${slot}`).toEqual(f32Bits(randomF32(slotLen, c.seed + 100 + slot)));
  }
}

describe.skipIf(!be)(`WebGPU attendRows: every row in its own cache slot, one dispatch${noGpuReason}`, () => {
  test('[ob:webgpu-attend-rows-exact] each row output and each slot cache bit-identical to attendRow alone; slots no row names left as they were', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(2, 8, 64), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 }), fc.nat(), async (kvHeads, rep, headDim, capacity, n, spare, seed) => {
        const shape = { n, startPos: 0, heads: kvHeads * rep, kvHeads, headDim, capacity };
        await expectRowsAlone({ shape, slots: n + spare, places: places(n, n + spare, capacity, seed), seed });
      }),
      { numRuns: 10 },
    );
  });

  test(`[ob:webgpu-attend-rows-exact] [ob:webgpu-attend-rows-indexing] more rows than one dispatch takes (${ATTEND_ROWS_MAX + 3}): the rows past ${ATTEND_ROWS_MAX} as exact as the first`, async () => {
    const n = ATTEND_ROWS_MAX + 3;
    const shape = { n, startPos: 0, heads: 2, kvHeads: 1, headDim: 4, capacity: 70 };
    await expectRowsAlone({ shape, slots: n, places: places(n, n, 70, 11), seed: 5 });
  });

  test('[ob:webgpu-attend-rows-indexing] a slot or position that does not fit the packed place word is refused', () => {
    const g = be as NonNullable<typeof be>;
    const ks = g.allocSlots(8, 1) as SlotBuffers<GpuBuf>;
    const shape = { n: 1, startPos: 0, heads: 1, kvHeads: 1, headDim: 2, capacity: 4 };
    const [q, k, v, att] = [g.alloc(2), g.alloc(2), g.alloc(2), g.alloc(2)];
    expect(() => g.attendRows(q, k, v, 1, ks, ks, [{ slot: 256, pos: 0 }], shape, 10000, att)).toThrow('slot 256 / position 0 out of range');
    expect(() => g.attendRows(q, k, v, 1, ks, ks, [{ slot: 0, pos: 2 ** 24 }], shape, 10000, att)).toThrow('out of range');
  });
});

describe.skipIf(!be)(`WebGPU slot buffers (allocSlots)${noGpuReason}`, () => {
  test('each slot holds its own floats; a copy between two slots of one allocation is exact; releasing a slot keeps the others', async () => {
    const g = be as NonNullable<typeof be>;
    const len = 37;
    const set = g.allocSlots(len, 3) as SlotBuffers<GpuBuf>;
    expect(set.stride).toBeGreaterThanOrEqual(len);
    expect(set.slots.map((s) => s.length)).toEqual([len, len, len]);
    const data = [randomF32(len, 1), randomF32(len, 2), randomF32(len, 3)];
    data.forEach((d, i) => g.copy(g.upload(d), 0, set.slots[i] as GpuBuf, 0, len));
    for (const [i, d] of data.entries()) expect(Array.from(await g.readAsync(set.slots[i] as GpuBuf, 0, len))).toEqual(Array.from(d));
    const whole = await g.readAsync(set.whole, 0, 2 * set.stride + len);
    expect(Array.from(whole.subarray(set.stride, set.stride + len))).toEqual(Array.from(data[1] as Float32Array));
    g.copy(set.slots[0] as GpuBuf, 5, set.slots[2] as GpuBuf, 10, 20);
    const moved = await g.readAsync(set.slots[2] as GpuBuf, 0, len);
    expect(Array.from(moved.subarray(10, 30))).toEqual(Array.from((data[0] as Float32Array).subarray(5, 25)));
    expect(Array.from(moved.subarray(0, 10))).toEqual(Array.from((data[2] as Float32Array).subarray(0, 10)));
    g.release(set.slots[0] as GpuBuf);
    expect(Array.from(await g.readAsync(set.slots[1] as GpuBuf, 0, len))).toEqual(Array.from(data[1] as Float32Array));
    expect(g.firstError).toBeUndefined();
  });

  test('slots that would not fit one buffer binding give undefined, not an error', () => {
    const g = be as NonNullable<typeof be>;
    expect(g.allocSlots(2 ** 28, 64)).toBeUndefined();
  });
});
