import { afterAll, describe, expect, test } from 'vitest';
import { violatedClause } from '../helpers.js';
import { contractMode, setContractMode } from '../../src/contract/mode.js';
import { KvBudgetError, slotCount } from '../../src/model/batch-budget.js';
import { batchGenerateContract } from '../../src/model/batch-decoder.js';
import { batchForwardContract, checkedBatchAsync } from '../../src/model/batch-step.js';
import { generateContract } from '../../src/model/generate.js';
import { applyRepetitionPenalty, argmax, generate, type KVCache, loadModel, type Model, Rng, sampleToken } from '../../src/model/index.js';
import type { KVCacheImpl } from '../../src/model/kv-cache.js';
import { QWEN2_SMALL, randomModel } from './model-random.js';

const model = loadModel(randomModel(QWEN2_SMALL, 21).bundle);
const V = QWEN2_SMALL.vocab_size;
const prompt = [3, 14, 15, 92, 65];

const clause = violatedClause;

describe('generation contracts as guards', () => {
  const cache = { length: 0 } as KVCache;
  test('generate: pre non-empty prompt, integer maxTokens ≥ 0, empty cache; post ≤ maxTokens ids, no stop token', () => {
    const pre = (promptIds: number[], opts: object): string => clause(() => generateContract.checkPre({ model, promptIds, opts: { maxTokens: 2, ...opts } }));
    expect(pre([1], { maxTokens: 0, cache })).toBe('none');
    expect(pre([], {})).toBe('prompt non-empty');
    for (const maxTokens of [-1, 1.5]) expect(pre([1], { maxTokens })).toBe('maxTokens ≥ 0');
    expect(pre([1], { cache: { length: 1 } })).toBe('cache empty');
    const post = (ids: number[]): string => clause(() => generateContract.checkPost({ model, promptIds: [1], opts: { maxTokens: 2, stopTokens: [7] } }, { ids, stopReason: 'length', timing: {} as never }));
    expect(post([1, 2])).toBe('none');
    expect(post([1, 2, 3])).toBe('at most maxTokens');
    expect(post([7])).toBe('no stop token inside');
  });

  test('BatchEngine.submit: the same clauses, and prompt + maxTokens must fit the slot', () => {
    const pre = (promptIds: number[], maxTokens: number): string => clause(() => batchGenerateContract.checkPre({ request: { promptIds, maxTokens }, contextLength: 4 }));
    expect(pre([1, 2], 2)).toBe('none');
    expect(pre([], 1)).toBe('prompt non-empty');
    for (const m of [-1, 0.5]) expect(pre([1], m)).toBe('maxTokens a non-negative integer');
    expect(pre([1, 2], 3)).toBe('prompt + maxTokens fit a slot');
    const post = (ids: number[]): string => clause(() => batchGenerateContract.checkPost({ request: { promptIds: [1], maxTokens: 2, stopTokens: [7] }, contextLength: 4 }, { ids, stopReason: 'length', timing: {} as never }));
    expect(post([1, 2])).toBe('none');
    expect(post([1, 2, 3])).toBe('at most maxTokens');
    expect(post([7])).toBe('no stop token inside');
  });

  test('a batched step: pre one token per distinct cache, post [n, vocab] finite logits and every cache one longer', () => {
    const [c1, c2] = [model.createCache(4), model.createCache(4)] as [KVCache, KVCache];
    const pre = (tokens: number[], caches: KVCache[]): string => clause(() => batchForwardContract.checkPre({ model, tokens, caches, before: [] }));
    expect(pre([1, 2], [c1, c2])).toBe('none');
    expect(pre([], [])).toBe('one token per cache, at least one');
    expect(pre([1], [c1, c2])).toBe('one token per cache, at least one');
    expect(pre([1, V], [c1, c2])).toBe('token ids in [0, vocab)');
    const post = (out: Float32Array, before: number[]): string => clause(() => batchForwardContract.checkPost({ model, tokens: [1, 2], caches: [c1, c2], before }, out));
    (c1 as KVCacheImpl<unknown>).setLength(1);
    (c2 as KVCacheImpl<unknown>).setLength(3);
    expect(post(new Float32Array(2 * V), [0, 2])).toBe('none');
    expect(post(new Float32Array(2 * V - 1), [0, 2])).toBe('logits shape');
    expect(post(new Float32Array(2 * V).fill(Number.NaN), [0, 2])).toBe('finite logits');
    expect(post(new Float32Array(2 * V), [0, 3])).toBe('each cache advanced by one');
  });
});

describe('checkedBatchAsync follows the contract mode', () => {
  const initial = contractMode();
  afterAll(() => setContractMode(initial));
  const c = model.createCache(4);
  test('off: no check; pre: the pre-condition only; full: both', async () => {
    const wrongShape = (): Promise<Float32Array> => Promise.resolve(new Float32Array(1));
    setContractMode('off');
    await expect(checkedBatchAsync(model, [1, 2], [c, c], wrongShape)).resolves.toHaveLength(1);
    setContractMode('pre');
    await expect(checkedBatchAsync(model, [1, 2], [c, c], wrongShape)).rejects.toThrow(/distinct caches/);
    await expect(checkedBatchAsync(model, [1], [c], wrongShape)).resolves.toHaveLength(1);
    setContractMode('full');
    await expect(checkedBatchAsync(model, [1], [c], wrongShape)).rejects.toThrow(/logits shape/);
  });
});

describe('generate: decoding paths against their definitions', () => {
  /** The model with some members replaced, counting forward passes. */
  function counted(over: Partial<Record<keyof Model, unknown>> = {}): { m: Model; calls: { forward: number; caches: KVCache[] } } {
    const calls = { forward: 0, caches: [] as KVCache[] };
    const m = Object.assign(Object.create(model) as Model, {
      forward(this: Model, ...args: Parameters<Model['forward']>) {
        calls.forward++;
        return model.forward.apply(this, args);
      },
      createCache(this: Model, n?: number) {
        calls.caches.push(model.createCache.call(this, n));
        return calls.caches.at(-1);
      },
      ...over,
    });
    return { m, calls };
  }

  test('sampled: each token is sampleToken of the full recomputation\'s last logits, one generator draw per token', () => {
    const opts = { maxTokens: 6, temperature: 0.9, topK: 20, seed: 5 };
    const r = generate(model, prompt, opts);
    const rng = new Rng(5);
    const seq = [...prompt];
    for (const id of r.ids) {
      expect(id).toBe(sampleToken(model.logitsAll(seq).slice((seq.length - 1) * V), opts, rng, seq));
      seq.push(id);
    }
  });

  test('greedy with a repetition penalty is the arg-max of the penalised logits, also without forwardGreedy', () => {
    const opts = { maxTokens: 6, repetitionPenalty: 1.8 };
    const want: number[] = [];
    const seq = [...prompt];
    for (let i = 0; i < 6; i++) {
      const id = argmax(applyRepetitionPenalty(model.logitsAll(seq).slice((seq.length - 1) * V), seq, 1.8));
      want.push(id);
      seq.push(id);
    }
    expect(generate(model, prompt, opts).ids).toEqual(want);
    const plainGreedy = generate(counted({ forwardGreedy: undefined }).m, prompt, { maxTokens: 6 }).ids;
    expect(plainGreedy).toEqual(generate(model, prompt, { maxTokens: 6 }).ids);
  });

  test('maxTokens 0 runs no forward pass; generate disposes the cache it made (not a caller\'s)', () => {
    const { m, calls } = counted({ forwardGreedy: undefined });
    expect(generate(m, prompt, { maxTokens: 0 }).ids).toEqual([]);
    expect(calls.forward).toBe(0);
    generate(m, prompt, { maxTokens: 3, temperature: 0.5 });
    expect(calls.caches.every((c) => (c as KVCacheImpl<unknown>).disposed)).toBe(true);
  });
});

describe('KV budget messages', () => {
  const c = { ...QWEN2_SMALL, num_layers: 1, num_kv_heads: 1, head_dim: 1 };
  test('the sizes in a KvBudgetError are in KiB, MiB or GiB as they fall', () => {
    // one slot of n positions is 2·1·1·1·n·4 = 8n bytes
    const err = (ctx: number): KvBudgetError => {
      try {
        slotCount(c, ctx, 8 * ctx - 1, 1);
      } catch (e) {
        return e as KvBudgetError;
      }
      throw new Error('no error');
    };
    expect(err(128)).toMatchObject({ name: 'KvBudgetError', message: 'KV budget 1.0 KiB holds no slot: one sequence of 128 positions needs 1.0 KiB' });
    expect(err(2 ** 17).message).toMatch(/needs 1\.0 MiB$/);
    expect(err(2 ** 27).message).toMatch(/needs 1\.00 GiB$/);
  });

  test('a context of 1 is allowed; parallel and context must be positive integers (named in the message)', () => {
    expect(slotCount(c, 1, 8, 1)).toBe(1);
    expect(() => slotCount(c, 1, 8, 0)).toThrow('parallel must be a positive integer, got 0');
    expect(() => slotCount(c, 0, 8, 1)).toThrow('context length must be a positive integer, got 0');
  });
});
