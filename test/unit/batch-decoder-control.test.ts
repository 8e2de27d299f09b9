import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { kvBytesPerSlot, parseByteSize, slotCount } from '../../src/model/batch-budget.js';
import { BatchEngine, BatchQueueFullError } from '../../src/model/batch-decoder.js';
import { generate, loadModel } from '../../src/model/index.js';
import { FIXTURES } from '../golden/model-fixtures.js';
import { prompts } from './batch-helpers.js';

const model = loadModel(readGgufBundle(path.join(FIXTURES, 'gguf', 'tiny-coder-llama-Q4_K_M.gguf')));
const c = model.config;
const [pa, pb, pc] = prompts([6, 11, 4], c.vocab_size, 5);

describe('BatchEngine scheduling and cancellation (model-batch-decoder-v1)', () => {
  test('[ob:batch-cancel-frees-slot] aborting a running request rejects it and its slot serves the next one', async () => {
    const engine = new BatchEngine(model, { parallel: 1, contextLength: 64 });
    const ctl = new AbortController();
    const seen: number[] = [];
    let afterAbort: number[] = [];
    const a = engine.submit({ promptIds: pa!, maxTokens: 40 }, { signal: ctl.signal, onToken: (id, i) => {
      seen.push(id);
      if (i < 2) return;
      ctl.abort(new Error('client went away'));
      afterAbort = [engine.active, engine.queued];
    } });
    const b = engine.submit({ promptIds: pb!, maxTokens: 8, temperature: 0.8, seed: 3 });
    await expect(a).rejects.toThrow('client went away');
    expect(seen).toHaveLength(3);
    expect(afterAbort).toEqual([0, 1]);
    const rb = await b;
    expect(rb.ids).toEqual(generate(model, pb!, { maxTokens: 8, temperature: 0.8, seed: 3 }).ids);
    expect(rb.timing.queueMs).toBeGreaterThan(0);
    engine.close();
  });

  test('[ob:batch-cancel-frees-slot] a waiting request aborted is dropped; an already aborted signal rejects at once', async () => {
    const engine = new BatchEngine(model, { parallel: 1, contextLength: 64 });
    const ctl = new AbortController();
    const a = engine.submit({ promptIds: pa!, maxTokens: 4 });
    const waiting = engine.submit({ promptIds: pb!, maxTokens: 4 }, { signal: ctl.signal });
    expect(engine.queued).toBe(2);
    ctl.abort(new Error('dropped'));
    expect(engine.queued).toBe(1);
    await expect(waiting).rejects.toThrow('dropped');
    await expect(engine.submit({ promptIds: pc!, maxTokens: 4 }, { signal: ctl.signal })).rejects.toThrow('dropped');
    expect((await a).ids).toHaveLength(4);
    engine.close();
  });

  test('[ob:batch-cancel-frees-slot] a full queue rejects submit, enqueue waits for room; close rejects the rest', async () => {
    const engine = new BatchEngine(model, { parallel: 1, contextLength: 64, maxQueue: 2 });
    const first = [engine.submit({ promptIds: pa!, maxTokens: 3 }), engine.submit({ promptIds: pb!, maxTokens: 3 })];
    await expect(engine.submit({ promptIds: pc!, maxTokens: 3 })).rejects.toBeInstanceOf(BatchQueueFullError);
    const later = engine.enqueue({ promptIds: pc!, maxTokens: 3 });
    const lengths = (await Promise.all([...first, later])).map((r) => r.ids.length);
    expect(lengths).toEqual([3, 3, 3]);
    const long = engine.submit({ promptIds: pa!, maxTokens: 30 }, { onToken: (_id, i) => void (i === 1 && engine.close(new Error('shutdown'))) });
    await expect(long).rejects.toThrow('shutdown');
    await expect(engine.submit({ promptIds: pa!, maxTokens: 3 })).rejects.toThrow(/closed/);
  });

  test('[ob:batch-cancel-frees-slot] stop reasons: callback, length, stop token; maxTokens 0; too long for a slot', async () => {
    const engine = new BatchEngine(model, { parallel: 2, contextLength: 16 });
    const free = generate(model, pa!, { maxTokens: 6 }).ids;
    const [cb, len, stop, zero] = await Promise.all([
      engine.submit({ promptIds: pa!, maxTokens: 6 }, { onToken: (_id, i) => i < 1 }),
      engine.submit({ promptIds: pa!, maxTokens: 6 }),
      engine.submit({ promptIds: pa!, maxTokens: 6, stopTokens: [free[2]!] }),
      engine.submit({ promptIds: pa!, maxTokens: 0 }),
    ]);
    expect([cb.stopReason, cb.ids]).toEqual(['callback', free.slice(0, 2)]);
    expect([len.stopReason, len.ids]).toEqual(['length', free]);
    expect([stop.stopReason, stop.stopToken, stop.ids]).toEqual(['stop', free[2], free.slice(0, free.indexOf(free[2]!))]);
    expect([zero.stopReason, zero.ids]).toEqual(['length', []]);
    await expect(engine.submit({ promptIds: pb!, maxTokens: 6 })).rejects.toThrow(/fit a slot/);
    engine.close();
  });
});

describe('KV budget (model-batch-decoder-v1)', () => {
  test('[ob:batch-slots-from-budget] slots = min(parallel, floor(budget / bytes per slot))', () => {
    const per = kvBytesPerSlot(c, 256);
    expect(per).toBe(2 * 6 * 4 * 32 * 256 * 4);
    expect(slotCount(c, 256, 10 * per + per - 1, 64)).toBe(10);
    expect(slotCount(c, 256, 100 * per, 16)).toBe(16);
    expect(() => slotCount(c, 256, per - 1, 16)).toThrow(/holds no slot/);
    expect(new BatchEngine(model, { kvBudget: 3 * kvBytesPerSlot(c, 100), contextLength: 100, parallel: 8 }).slots).toBe(3);
  });

  test('[ob:batch-slots-from-budget] sizes: 256M, 1.5G, 64k, 512MiB, plain bytes; junk rejected', () => {
    expect(parseByteSize('256M')).toBe(256 * 2 ** 20);
    expect(parseByteSize('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('64k')).toBe(64 * 1024);
    expect(parseByteSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseByteSize('1048576')).toBe(2 ** 20);
    expect(() => parseByteSize('12X')).toThrow(/expected a size/);
    expect(() => parseByteSize('0')).toThrow(/positive/);
  });
});
