import { describe, expect, test } from 'vitest';
import { BatchEngine } from '../../src/model/batch-decoder.js';
import { fitContext, PromptTooLongError } from '../../src/model/generate.js';
import { generate, type GenerateTiming, loadModel } from '../../src/model/index.js';
import { QWEN2_SMALL, randomModel } from './model-random.js';

const model = loadModel(randomModel(QWEN2_SMALL, 77).bundle);
const prompt = [3, 14, 15, 92, 65];

/**
 * What the timing fields mean, checked against each other: the prefill and the decode steps are disjoint parts
 * of the total, the first token comes after the prefill, and each rate is tokens · 1000 / milliseconds.
 * `steps` is the number of one-token forward passes after the prefill.
 */
function expectConsistent(t: GenerateTiming, steps: number): void {
  expect(t.prefillMs).toBeGreaterThan(0);
  expect(t.decodeMs).toBeGreaterThanOrEqual(0);
  expect(t.totalMs).toBeGreaterThanOrEqual(t.prefillMs + t.decodeMs);
  expect(t.timeToFirstTokenMs).toBeGreaterThanOrEqual(t.prefillMs);
  expect(t.timeToFirstTokenMs).toBeLessThanOrEqual(t.totalMs);
  expect(t.prefillTokPerSec).toBeCloseTo((t.promptTokens * 1000) / t.prefillMs, 6);
  if (steps > 0) {
    expect(t.decodeMs).toBeGreaterThan(0);
    expect(t.decodeTokPerSec).toBeCloseTo((steps * 1000) / t.decodeMs, 6);
  } else expect(t.decodeTokPerSec).toBe(0);
}

describe('generation timing', () => {
  test('generate: prefill, decode steps (one per token after the first) and rates agree', () => {
    const r = generate(model, prompt, { maxTokens: 6, temperature: 0.8, seed: 3 });
    expect(r.ids).toHaveLength(6);
    expect(r.timing).toMatchObject({ promptTokens: 5, generatedTokens: 6 });
    expectConsistent(r.timing, 5);
  });

  test('generate with maxTokens 0 runs no forward pass: every duration and rate is 0', () => {
    const r = generate(model, prompt, { maxTokens: 0 });
    expect(r.ids).toEqual([]);
    expect(r.timing.decodeMs).toBe(0);
    expect(r.timing.timeToFirstTokenMs).toBe(0);
    expect(r.timing.decodeTokPerSec).toBe(0);
    expect(r.timing.prefillMs).toBeLessThan(50);
  });

  test('generate into a caller\'s cache leaves it holding prompt + generated − 1 positions, not disposed', () => {
    const cache = model.createCache(16);
    const r = generate(model, prompt, { maxTokens: 4, cache });
    // the last generated token is returned but never fed back
    expect(cache.length).toBe(prompt.length + r.ids.length - 1);
    cache.truncate(0);
    expect(generate(model, prompt, { maxTokens: 4, cache }).ids).toEqual(r.ids);
  });

  test('a BatchEngine request reports the same consistent timing, plus its wait in the queue', async () => {
    const engine = new BatchEngine(model, { parallel: 1, contextLength: 32 });
    const [a, b] = await Promise.all([
      engine.submit({ promptIds: prompt, maxTokens: 5, temperature: 0.8, seed: 1 }),
      engine.submit({ promptIds: prompt.slice(0, 3), maxTokens: 4, temperature: 0.8, seed: 2 }),
    ]);
    engine.close();
    expect(a.timing).toMatchObject({ promptTokens: 5, generatedTokens: 5 });
    expect(b.timing).toMatchObject({ promptTokens: 3, generatedTokens: 4 });
    expectConsistent(a.timing, 4);
    expectConsistent(b.timing, 3);
    // one slot: b waits for all of a
    expect(b.timing.queueMs).toBeGreaterThanOrEqual(a.timing.totalMs);
  });
});

describe('fitContext (llama.cpp: prompt + generated ≤ context)', () => {
  test('a prompt that fills the context is refused, naming both sizes', () => {
    expect(() => fitContext(8, 1, 8)).toThrow(PromptTooLongError);
    try {
      fitContext(9, 1, 8);
    } catch (err) {
      expect(err).toMatchObject({ name: 'PromptTooLongError', promptTokens: 9, contextLength: 8 });
      expect((err as Error).message).toContain('9 tokens');
    }
  });

  test('maxTokens is kept while it fits, lowered to the room left (with a warning) when not', () => {
    expect(fitContext(7, 1, 8)).toEqual({ maxTokens: 1 });
    expect(fitContext(5, 3, 8)).toEqual({ maxTokens: 3 });
    const lowered = fitContext(5, 4, 8);
    expect(lowered.maxTokens).toBe(3);
    expect(lowered.warning).toMatch(/--max-tokens 4 .* context of 8 tokens.* at most 3 tokens/);
  });
});
