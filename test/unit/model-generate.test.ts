import { describe, expect, test } from 'vitest';
import { perplexity } from '../../src/eval/perplexity.js';
import { argmax, generate, loadModel } from '../../src/model/index.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { QWEN2_SMALL, randomModel } from './model-random.js';

const model = loadModel(randomModel(QWEN2_SMALL, 77).bundle);
const V = QWEN2_SMALL.vocab_size;
const prompt = [3, 14, 15, 92, 65];

describe('generate', () => {
  test('[ob:generate-greedy-is-argmax-chain] greedy generation is the arg-max of a full recomputation at each step', () => {
    const r = generate(model, prompt, { maxTokens: 8 });
    const seq = [...prompt];
    for (const id of r.ids) {
      const logits = model.logitsAll(seq);
      expect(id).toBe(argmax(logits.subarray((seq.length - 1) * V)));
      seq.push(id);
    }
    expect(r.ids.length).toBe(8);
    expect(r.stopReason).toBe('length');
    expect(r.timing.promptTokens).toBe(5);
    expect(r.timing.generatedTokens).toBe(8);
  });

  test('[ob:generate-stop-tokens] generation ends at a stop token, which is neither returned nor streamed', () => {
    const free = generate(model, prompt, { maxTokens: 8 });
    const stop = free.ids[3]!;
    const firstAt = free.ids.indexOf(stop);
    const streamed: number[] = [];
    const r = generate(model, prompt, { maxTokens: 8, stopTokens: [stop] }, (id) => void streamed.push(id));
    expect(r.stopReason).toBe('stop');
    expect(r.stopToken).toBe(stop);
    expect(r.ids).toEqual(free.ids.slice(0, firstAt));
    expect(streamed).toEqual(r.ids);
  });

  test('[ob:generate-max-tokens] maxTokens bounds the output; 0 generates nothing; a callback can stop early', () => {
    expect(generate(model, prompt, { maxTokens: 0 }).ids).toEqual([]);
    expect(generate(model, prompt, { maxTokens: 3, temperature: 1, seed: 1 }).ids.length).toBe(3);
    const r = generate(model, prompt, { maxTokens: 10 }, (_id, i) => i < 1);
    expect(r.ids.length).toBe(2);
    expect(r.stopReason).toBe('callback');
  });

  test('[ob:generate-deterministic] sampling with a seed is reproducible', () => {
    const opts = { maxTokens: 12, temperature: 1.5, topK: 20, topP: 0.9, seed: 42 };
    const a = generate(model, prompt, opts).ids;
    expect(generate(model, prompt, opts).ids).toEqual(a);
    expect(generate(model, prompt, { ...opts, seed: 43 }).ids).not.toEqual(a);
  });

  test('an empty prompt is refused', () => {
    expect(() => generate(model, [], { maxTokens: 1 })).toThrow(/prompt non-empty/);
  });
});

describe('perplexity', () => {
  /** A model whose LM head is all zeros predicts the uniform distribution: perplexity = vocab size exactly. */
  function uniformModel() {
    const { bundle } = randomModel(QWEN2_SMALL, 5);
    const store = bundle.tensors as MemoryTensorStore;
    store.add('lm_head.weight', 'F32', [V, QWEN2_SMALL.hidden_size], new Uint8Array(V * QWEN2_SMALL.hidden_size * 4));
    return loadModel(bundle);
  }

  test('[ob:perplexity-uniform] a uniform predictor has perplexity = vocab and mean NLL = ln V', () => {
    const ids = Array.from({ length: 50 }, (_, i) => (i * 7) % V);
    const r = perplexity(uniformModel(), ids, { context: 16 });
    expect(r.chunks).toBe(3);
    expect(r.tokens).toBe(3 * 15);
    expect(Math.abs(r.mean_nll - Math.log(V))).toBeLessThan(1e-12);
    expect(Math.abs(r.perplexity - V)).toBeLessThan(1e-9);
  });

  test('[ob:perplexity-windows] chunks limits windows; stride = context equals non-overlapping; strided scores every token once', () => {
    const ids = Array.from({ length: 40 }, (_, i) => (i * 13 + 5) % V);
    const plain = perplexity(model, ids, { context: 10 });
    expect(plain.chunks).toBe(4);
    expect(perplexity(model, ids, { context: 10, chunks: 2 }).tokens).toBe(18);
    const strided = perplexity(model, ids, { context: 10, stride: 10 });
    expect(strided.tokens).toBe(plain.tokens);
    expect(strided.mean_nll).toBeCloseTo(plain.mean_nll, 12);
    const sliding = perplexity(model, ids, { context: 10, stride: 3 });
    expect(sliding.tokens).toBe(ids.length - 1);
  });

  test('[ob:perplexity-definition] mean NLL equals −log softmax of the next token, summed by hand', () => {
    const ids = [1, 2, 3, 4, 5, 6];
    const logits = model.logitsAll(ids);
    let total = 0;
    for (let p = 1; p < ids.length; p++) {
      const row = Array.from(logits.subarray((p - 1) * V, p * V));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      total += lse - row[ids[p]!]!;
    }
    const r = perplexity(model, ids, { context: 6 });
    expect(r.mean_nll).toBeCloseTo(total / 5, 12);
  });
});
