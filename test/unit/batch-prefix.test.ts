import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { BatchEngine, type BatchRequest } from '../../src/model/batch-decoder.js';
import { PrefixIndex } from '../../src/model/batch-prefix.js';
import { generate, loadModel, type Model } from '../../src/model/index.js';
import { FIXTURES } from '../golden/model-fixtures.js';
import { prompts, target } from './batch-helpers.js';

const model = loadModel(readGgufBundle(path.join(FIXTURES, 'gguf', 'tiny-coder-llama-Q4_K_M.gguf')));
const other = loadModel(readGgufBundle(path.join(FIXTURES, 'gguf', 'tiny-coder-llama-Q4_K_M.gguf')));
const V = model.config.vocab_size;

/** The model, counting the prompt tokens that single-sequence forward passes run (batched steps not counted). */
function counting(m: Model): { model: Model; prefillTokens: () => number } {
  let n = 0;
  const wrapped = new Proxy(m, {
    get(t, key) {
      if (key === 'forward') return (ids: ArrayLike<number>, ...rest: [number, never]) => ((n += ids.length), t.forward(ids, ...rest));
      if (key === 'forwardAsync' && t.forwardAsync) return (ids: ArrayLike<number>, ...rest: [number, never]) => ((n += ids.length), t.forwardAsync?.(ids, ...rest));
      const v = Reflect.get(t, key, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return { model: wrapped, prefillTokens: () => n };
}

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('prefix reuse in BatchEngine (model-batch-decoder-v1)', () => {
  test('[ob:batch-prefix-reuse] 8 samples of one prompt run the prompt once and give generate()\'s tokens', async () => {
    const [p] = prompts([29], V, 5);
    const reqs: BatchRequest[] = Array.from({ length: 8 }, (_, s) => ({ ...target(p!, 12), seed: 900 + s }));
    const { model: m, prefillTokens } = counting(model);
    const engine = new BatchEngine(m, { parallel: 8, contextLength: 64 });
    const got = await Promise.all(reqs.map((r) => engine.submit(r)));
    engine.close();
    // the first sample runs all 29 prompt tokens, each later one only the last (its first token's logits)
    expect(prefillTokens()).toBe(29 + 7);
    reqs.forEach((r, i) => expect(got[i]!.ids, `sample ${i}`).toEqual(generate(model, r.promptIds, r).ids));
    // the seeds differ, so the samples do (a reuse that also shared the generator would make them equal)
    expect(new Set(got.map((g) => g.ids.join(','))).size).toBeGreaterThan(1);
  });

  test('[ob:batch-prefix-reuse] prompts sharing a 20-token system prompt share its positions, joining mid-batch', async () => {
    const [system, ...tails] = prompts([20, 7, 1, 12, 3], V, 9);
    const reqs = tails.map((t, i) => ({ ...target([...system!, ...t], 10 + i), seed: 50 + i }));
    const { model: m, prefillTokens } = counting(model);
    const engine = new BatchEngine(m, { parallel: 2, contextLength: 64 });
    const got = await Promise.all(reqs.map((r) => engine.submit(r)));
    engine.close();
    // 20 + 7, then each later tail alone (a 1-token tail: its one token), whichever slot holds the system prompt
    expect(prefillTokens()).toBe(20 + 7 + 1 + 12 + 3);
    reqs.forEach((r, i) => expect(got[i]!.ids, `request ${i}`).toEqual(generate(model, r.promptIds, r).ids));
  });

  test('[ob:batch-prefix-reuse] a freed slot keeps its positions for the next request with that prompt, not the tokens generated after it', async () => {
    const [p, q] = prompts([17, 17], V, 13);
    const { model: m, prefillTokens } = counting(model);
    const engine = new BatchEngine(m, { parallel: 1, contextLength: 64 });
    const a = await engine.submit({ ...target(p!, 9), seed: 1 });
    const b = await engine.submit({ ...target(p!, 9), seed: 2 });
    // a prompt that extends the first one by its generated tokens reuses those positions too
    const longer = [...p!, ...a.ids.slice(0, 4)];
    const c = await engine.submit({ ...target(longer, 5), seed: 3 });
    const d = await engine.submit({ ...target(q!, 5), seed: 4 });
    engine.close();
    expect(prefillTokens()).toBe(17 + 1 + (longer.length - 17) + 17);
    expect(a.ids).toEqual(generate(model, p!, { ...target(p!, 9), seed: 1 }).ids);
    expect(b.ids).toEqual(generate(model, p!, { ...target(p!, 9), seed: 2 }).ids);
    expect(c.ids).toEqual(generate(model, longer, { ...target(longer, 5), seed: 3 }).ids);
    expect(d.ids).toEqual(generate(model, q!, { ...target(q!, 5), seed: 4 }).ids);
  });
});

describe('KVCache.copyPrefix', () => {
  test('[ob:batch-prefix-reuse] a copied prefix decodes on to the same logits bit for bit, into a smaller cache too', () => {
    const [p] = prompts([23], V, 17);
    const src = model.createCache(64);
    model.forward(p!, 0, src);
    const dst = model.createCache(2);
    model.forward([7, 8, 9], 0, dst);
    dst.copyPrefix(src, 15);
    expect(dst.length).toBe(15);
    expect(src.length).toBe(23);
    const rest = p!.slice(15, 20);
    expect(bits(model.forward(rest, 15, dst))).toEqual(bits(model.forward(p!.slice(0, 20), 0, model.createCache(20))));
  });

  test('copyPrefix refuses a cache of another model and more positions than the source holds', () => {
    const src = model.createCache(8);
    model.forward([5, 6, 7], 0, src);
    expect(() => model.createCache(8).copyPrefix(src, 4)).toThrow(RangeError);
    expect(() => other.createCache(8).copyPrefix(src, 2)).toThrow(/another model/);
  });
});

describe('PrefixIndex', () => {
  test('[ob:batch-prefix-reuse] shared() counts the positions a cache holds of a prompt; best() takes the longest, the first on ties', () => {
    const a = model.createCache(16);
    const b = model.createCache(16);
    model.forward([5, 6, 7, 8], 0, a);
    model.forward([5, 6, 9], 0, b);
    const index = new PrefixIndex();
    expect(index.shared(a, [5, 6, 7])).toBe(0);
    index.set(a, [5, 6, 7, 8]);
    index.set(b, [5, 6, 9]);
    expect(index.shared(a, [5, 6, 7, 1])).toBe(3);
    expect(index.shared(a, [5, 6, 7, 8, 9])).toBe(4);
    expect(index.shared(a, [5, 6])).toBe(2);
    expect(index.shared(a, [4])).toBe(0);
    expect(index.best([a, b], [5, 6, 9, 9])).toEqual({ cache: b, positions: 3 });
    expect(index.best([b, a], [5, 6, 1])).toEqual({ cache: b, positions: 2 });
    expect(index.best([a, b], [1])).toEqual({ cache: undefined, positions: 0 });
    // a cache cut back holds fewer positions than its recorded tokens: only those count
    a.truncate(2);
    expect(index.shared(a, [5, 6, 7, 8])).toBe(2);
    // push records a decode step's token; forget drops the cache
    model.forward([7], 2, a);
    index.set(a, [5, 6]);
    index.push(a, 7);
    expect(index.shared(a, [5, 6, 7, 8])).toBe(3);
    index.forget(a);
    expect(index.shared(a, [5, 6, 7, 8])).toBe(0);
  });

  test('copyPrefix onto itself keeps that many positions; a negative or fractional count is refused', () => {
    const c = model.createCache(8);
    model.forward([5, 6, 7, 8], 0, c);
    c.copyPrefix(c, 2);
    expect(c.length).toBe(2);
    expect(() => c.copyPrefix(c, -1)).toThrow(RangeError);
    expect(() => model.createCache(8).copyPrefix(c, 1.5)).toThrow(RangeError);
    const d = model.createCache(8);
    d.copyPrefix(c, 0);
    expect(d.length).toBe(0);
  });
});
