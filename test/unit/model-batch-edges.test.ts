import { describe, expect, test } from 'vitest';
import type { Backend } from '../../src/kernels/types.js';
import { BatchEngine, BatchQueueFullError } from '../../src/model/batch-decoder.js';
import { forwardBatchAsync, releaseRowBuffers } from '../../src/model/batch-step.js';
import { type KVCache, loadModel, type Model } from '../../src/model/index.js';
import { KVCacheImpl } from '../../src/model/kv-cache.js';
import { QWEN2_SMALL, randomModel } from './model-random.js';

const model = loadModel(randomModel(QWEN2_SMALL, 5).bundle);
const V = QWEN2_SMALL.vocab_size;

/** `model` with some members replaced (the rest, prototype methods included, reached through the prototype). */
function variant(over: Partial<Record<keyof Model, unknown>>): Model {
  return Object.assign(Object.create(model) as Model, over);
}

/** `model`, recording every cache it creates. */
function recording(): { m: Model; caches: KVCache[] } {
  const caches: KVCache[] = [];
  const m = variant({
    createCache(this: Model, n?: number) {
      caches.push(model.createCache.call(this, n));
      return caches.at(-1);
    },
  });
  return { caches, m };
}

/** Rejects if `p` has not settled within `ms` (a request that is never settled must fail the test, not hang it). */
function within<T>(p: Promise<T>, ms = 5000): Promise<T> {
  return Promise.race([p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms))]);
}

describe('BatchEngine slots, queue and shutdown', () => {
  test('the context length defaults to min(max_position_embeddings, 2048)', () => {
    expect(new BatchEngine(model).contextLength).toBe(Math.min(QWEN2_SMALL.max_position_embeddings, 2048));
  });

  test('no more caches than slots: a freed slot serves the next request; close disposes every cache', async () => {
    const { m, caches } = recording();
    const engine = new BatchEngine(m, { parallel: 1, contextLength: 32 });
    await engine.submit({ promptIds: [5, 6, 7], maxTokens: 3 });
    await engine.submit({ promptIds: [8, 9], maxTokens: 3 });
    expect(caches).toHaveLength(1);
    // let the idle loop end: close then disposes at once
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    engine.close();
    expect(caches.every((c) => (c as KVCacheImpl<unknown>).disposed)).toBe(true);
  });

  test('close while a step runs disposes the caches once the loop ends, and rejects with the default reason', async () => {
    const { m, caches } = recording();
    const engine = new BatchEngine(m, { parallel: 2, contextLength: 32 });
    const r = engine.submit({ promptIds: [5, 6, 7], maxTokens: 20 }, { onToken: (_id, i) => void (i === 2 && engine.close()) });
    await expect(within(r)).rejects.toThrow('BatchEngine closed');
    await new Promise((resolve) => setImmediate(resolve));
    expect(caches.length).toBeGreaterThan(0);
    expect(caches.every((c) => (c as KVCacheImpl<unknown>).disposed)).toBe(true);
  });

  test('aborting the request at the head of the queue drops it alone; the next one still runs', async () => {
    const engine = new BatchEngine(model, { parallel: 1, contextLength: 32 });
    const ctl = new AbortController();
    const a = engine.submit({ promptIds: [5, 6], maxTokens: 3 }, { signal: ctl.signal });
    const b = engine.submit({ promptIds: [7, 8], maxTokens: 3 });
    ctl.abort(new Error('gone'));
    expect(engine.queued).toBe(1);
    await expect(within(a)).rejects.toThrow('gone');
    expect((await within(b)).ids).toHaveLength(3);
    engine.close();
  });

  test('aborting a waiting request leaves the running one running', async () => {
    const engine = new BatchEngine(model, { parallel: 1, contextLength: 32 });
    const ctl = new AbortController();
    let aborted = false;
    const a = engine.submit({ promptIds: [5, 6], maxTokens: 6 }, { onToken: (_id, i) => void (i === 1 && !aborted && (aborted = true, ctl.abort(new Error('late')))) });
    const b = engine.submit({ promptIds: [7, 8], maxTokens: 3 }, { signal: ctl.signal });
    await expect(within(b)).rejects.toThrow('late');
    expect(engine.active).toBe(1);
    expect((await within(a)).ids).toHaveLength(6);
    engine.close();
  });

  test('refusals: a full queue (named, with its size), an abort reason that is not an Error', async () => {
    const engine = new BatchEngine(model, { parallel: 1, contextLength: 32, maxQueue: 1 });
    const first = engine.submit({ promptIds: [5], maxTokens: 2 });
    const full = await engine.submit({ promptIds: [5], maxTokens: 2 }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(BatchQueueFullError);
    expect(full).toMatchObject({ name: 'BatchQueueFullError', message: 'batch queue full (1 requests waiting)' });
    await first;
    const ctl = new AbortController();
    ctl.abort('just a string');
    await expect(engine.submit({ promptIds: [5], maxTokens: 2 }, { signal: ctl.signal })).rejects.toThrow('aborted');
    engine.close();
  });

  test('a forward pass that throws rejects the requests it served (prefill and step), not the engine', async () => {
    let failPrefill = true;
    const flaky = variant({
      forwardAsync: undefined,
      forwardBatchAsync: undefined,
      forward(this: Model, t: ArrayLike<number>, pos: number, cache: KVCache) {
        if (failPrefill && t.length > 1) throw new Error('prefill failed');
        return model.forward.call(this, t, pos, cache);
      },
      forwardBatch: () => {
        throw new Error('step failed');
      },
    });
    const engine = new BatchEngine(flaky, { parallel: 2, contextLength: 32 });
    await expect(within(engine.submit({ promptIds: [5, 6], maxTokens: 3 }))).rejects.toThrow('prefill failed');
    failPrefill = false;
    await expect(within(engine.submit({ promptIds: [5, 6], maxTokens: 3 }))).rejects.toThrow('step failed');
    // one token needs no step: it still succeeds
    expect((await within(engine.submit({ promptIds: [5, 6], maxTokens: 1 }))).ids).toHaveLength(1);
    engine.close();
  });

  test('an onToken that throws rejects its own request only', async () => {
    const engine = new BatchEngine(model, { parallel: 2, contextLength: 32 });
    const bad = engine.submit({ promptIds: [5, 6], maxTokens: 4 }, { onToken: (_id, i) => {
      if (i === 1) throw new Error('callback broke');
    } });
    const good = engine.submit({ promptIds: [7, 8], maxTokens: 4 });
    await expect(within(bad)).rejects.toThrow('callback broke');
    expect((await within(good)).ids).toHaveLength(4);
    engine.close();
  });
});

describe('batched step helpers', () => {
  test('a model without forwardBatch is stepped row by row, with the same bits as its batched step', async () => {
    const rows = variant({ forwardBatch: undefined, forwardBatchAsync: undefined });
    const prep = (m: Model): KVCache[] => [[3, 4, 5], [6]].map((p) => {
      const c = m.createCache(8);
      m.forward(p, 0, c);
      return c;
    });
    const a = prep(model), b = prep(rows);
    const batched = await forwardBatchAsync(model, [9, 10], a);
    const byRow = await forwardBatchAsync(rows, [9, 10], b);
    expect(byRow).toHaveLength(2 * V);
    expect(Array.from(byRow)).toEqual(Array.from(batched));
    expect(b.map((c) => c.length)).toEqual([4, 2]);
  });

  test('releaseRowBuffers releases q, k, v and att; nothing for no buffers or a backend without release', () => {
    const released: string[] = [];
    const be = { release: (b: string) => void released.push(b) } as unknown as Backend<string, unknown>;
    releaseRowBuffers(be, { q: 'q', k: 'k', v: 'v', att: 'att' });
    releaseRowBuffers(be, undefined);
    expect(released).toEqual(['q', 'k', 'v', 'att']);
    expect(() => releaseRowBuffers({} as Backend<string, unknown>, { q: 'q', k: 'k', v: 'v', att: 'att' })).not.toThrow();
  });
});
