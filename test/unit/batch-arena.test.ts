import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { cpuPortableBackend } from '../../src/kernels/cpu/index.js';
import type { AttentionShape, Backend, SlotBuffers, SlotPlace, WeightMatrix } from '../../src/kernels/types.js';
import { generate, loadModel } from '../../src/model/index.js';
import type { KVCache } from '../../src/model/kv-cache.js';
import { FIXTURES } from '../golden/model-fixtures.js';
import { inMix, prompts, target } from './batch-helpers.js';

/**
 * The model side of slot caches (KVArena, the batched step's one `attendRows` call per layer, BatchEngine
 * taking its slots from the arena) on the CPU, where the real CPU backend has no slot methods. The backend
 * here adds them to the portable CPU kernels as their definition: slots are subarrays of one Float32Array
 * (stride padded past the slot length, as a device backend pads for alignment), and attendRows runs each
 * row through the calls the step makes row by row without it (copy out, rope q and k, kvStore k and v into
 * the row's slot, attention, copy back). So the engine's tokens must equal generate()'s on the portable
 * backend, and counting the calls shows which path ran.
 */

interface Counts {
  attendRows: number;
  rows: number;
}

function slotBackend(counts: Counts): Backend<Float32Array, WeightMatrix> {
  const be = cpuPortableBackend;
  return {
    ...be,
    name: 'cpu-slots',
    allocSlots(length: number, slots: number): SlotBuffers<Float32Array> {
      const stride = length + 5;
      const whole = new Float32Array(stride * slots);
      return { whole, slots: Array.from({ length: slots }, (_, i) => whole.subarray(i * stride, i * stride + length)), stride };
    },
    attendRows(q, k, v, n, ks, vs, places: readonly SlotPlace[], s: AttentionShape, theta, out): void {
      counts.attendRows++;
      const [qDim, kvDim] = [s.heads * s.headDim, s.kvHeads * s.headDim];
      for (let i = 0; i < n; i++) {
        counts.rows++;
        const { slot, pos } = places[i] as SlotPlace;
        const [kc, vc] = [ks.slots[slot] as Float32Array, vs.slots[slot] as Float32Array];
        const [rq, rk, rv, ra] = [q.slice(i * qDim, (i + 1) * qDim), k.slice(i * kvDim, (i + 1) * kvDim), v.slice(i * kvDim, (i + 1) * kvDim), new Float32Array(qDim)];
        be.rope(rq, 1, s.heads, s.headDim, pos, theta);
        be.rope(rk, 1, s.kvHeads, s.headDim, pos, theta);
        be.kvStore(kc, rk, 1, s.kvHeads, s.headDim, pos, s.capacity);
        be.kvStore(vc, rv, 1, s.kvHeads, s.headDim, pos, s.capacity);
        be.attention(rq, kc, vc, { ...s, n: 1, startPos: pos }, ra);
        out.set(ra, i * qDim);
      }
    },
  };
}

const file = path.join(FIXTURES, 'gguf', 'tiny-coder-llama-Q4_K_M.gguf');

describe('slot caches on the CPU (KVArena, attendRows)', () => {
  test('[ob:batch-seed-invariance] the sampled request gives generate()\'s tokens in a batch of 7 drawn from one arena; each step attends all rows of a layer in one call', async () => {
    const counts: Counts = { attendRows: 0, rows: 0 };
    const arenaModel = loadModel(readGgufBundle(file), { backend: slotBackend(counts) });
    const plain = loadModel(readGgufBundle(file), { backend: cpuPortableBackend });
    const V = plain.config.vocab_size;
    const req = target(prompts([13], V, 3)[0] as number[], 7);
    const alone = generate(plain, req.promptIds, { ...req, stopTokens: [0] }).ids;
    const seven = await inMix(arenaModel, req, prompts([5, 20, 2, 19, 14, 8], V, 11), 7, 3, 4);
    expect([seven.peak, seven.ids]).toEqual([7, alone]);
    expect(counts.attendRows).toBeGreaterThan(0);
    // Several rows per call: the batch ran through attendRows, not row by row.
    expect(counts.rows / counts.attendRows).toBeGreaterThan(2);
    expect(counts.attendRows % plain.config.num_layers).toBe(0);
  });

  test('[ob:batch-forward-rows] a batched step over arena slots equals one over caches of their own bit for bit; a cache grown past its slot leaves the arena and its row goes the row-by-row way', () => {
    const counts: Counts = { attendRows: 0, rows: 0 };
    const model = loadModel(readGgufBundle(file), { backend: slotBackend(counts) });
    const arena = model.createCacheArena?.(4, 12);
    expect(arena?.caches.length).toBe(4);
    const V = model.config.vocab_size;
    const ps = prompts([3, 7, 5], V, 17);
    const run = (caches: readonly KVCache[], lengths: readonly number[]): number[] => {
      lengths.forEach((n, i) => model.forward(ps[i]?.slice(0, n) ?? [], 0, caches[i] as KVCache));
      return Array.from(model.forwardBatch?.([9, 10, 11], caches) ?? []);
    };
    const slots = [2, 0, 3].map((i) => arena?.caches[i] as KVCache);
    const own = [0, 1, 2].map(() => model.createCache(12));
    const before = counts.attendRows;
    const a = run(slots, [3, 7, 5]);
    expect(counts.attendRows - before).toBe(model.config.num_layers);
    expect(a).toEqual(run(own, [3, 7, 5]));
    // 14 positions do not fit the 12 of slot 2: that cache grows into buffers of its own.
    const grown = prompts([14], V, 5)[0] as number[];
    model.forward(grown, 0, slots[0] as KVCache);
    model.forward(grown, 0, own[0] as KVCache);
    const mark = counts.attendRows;
    const b = Array.from(model.forwardBatch?.([4, 5, 6], slots) ?? []);
    expect(counts.attendRows).toBe(mark);
    expect(b).toEqual(Array.from(model.forwardBatch?.([4, 5, 6], own) ?? []));
    arena?.dispose();
  });

  test('no arena where the backend has no slot buffers (the plain CPU backend): the engine makes a cache per slot', () => {
    const model = loadModel(readGgufBundle(file), { backend: cpuPortableBackend });
    expect(model.createCacheArena?.(4, 12)).toBeUndefined();
  });
});
