import { describe, expect, test } from 'vitest';
import { LLAMA_CPP_PPL, llamaCppProtocol } from './perplexity-gguf-helpers.js';

describe("perplexity of GGUF files under llama.cpp's protocol (f32, Q8_0)", () => {
  test('[ob:perplexity-matches-reference] f32 GGUF: within 0.05 % of llama-perplexity (float32 on both sides; measured 9.3193)', () => {
    const ppl = llamaCppProtocol('f32');
    expect(Math.abs(ppl / (LLAMA_CPP_PPL['f32'] ?? 0) - 1)).toBeLessThan(5e-4);
  });

  test('[ob:perplexity-matches-reference] Q8_0 GGUF: within 0.05 % of llama-perplexity (measured 9.3219)', () => {
    const ppl = llamaCppProtocol('Q8_0');
    expect(Math.abs(ppl / (LLAMA_CPP_PPL['Q8_0'] ?? 0) - 1)).toBeLessThan(5e-4);
  });
});
