import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { createSession } from '../../src/model/session.js';
import { runPrompt } from '../../src/ops/generate.js';
import { runSpeculative } from '../../src/ops/speculative.js';
import { fixture } from '../helpers.js';

interface Reference {
  prompts: { text: string; greedy_32: number[] }[];
}

// Greedy speculative decoding must return the target's own greedy continuation, token for token; the target's
// greedy continuation is transformers' greedy_32 (the reference file), so both are held to an outside answer.
describe('runSpeculative (apr run --speculative) on the tiny coder model with the tiny draft model', () => {
  const target = createSession(openModel(fixture('models', 'tiny-coder-llama')));
  const draft = createSession(openModel(fixture('models', 'tiny-draft-llama')));
  const ref = JSON.parse(readFileSync(fixture('reference/tiny-coder-llama.reference.json'), 'utf8')) as Reference;
  const prompt = ref.prompts[0];

  it('greedy: the same ids as transformers and as plain runPrompt; the streamed text is the text; stats add up', () => {
    expect(prompt).toBeDefined();
    if (!prompt) return;
    const opts = { prompt: prompt.text, maxTokens: 32, temperature: 0 };
    const plain = runPrompt(target, opts);
    const streamed: string[] = [];
    const spec = runSpeculative(target, draft, { ...opts, speculationK: 3 }, (t) => streamed.push(t));
    expect(plain.token_ids.length).toBeGreaterThanOrEqual(16);
    expect(plain.token_ids).toEqual(prompt.greedy_32.slice(0, plain.token_ids.length));
    expect(spec.token_ids).toEqual(plain.token_ids);
    expect(spec.text).toBe(plain.text);
    expect(streamed.join('')).toBe(spec.text);
    expect(spec.prompt_tokens).toBe(plain.prompt_tokens);
    expect(spec.speculation_k).toBe(3);
    expect(spec.accepted_tokens).toBeLessThanOrEqual(spec.drafted_tokens);
    expect(spec.acceptance_rate).toBeCloseTo(spec.drafted_tokens === 0 ? 0 : spec.accepted_tokens / spec.drafted_tokens, 12);
    expect(spec.verification_rounds).toBeGreaterThan(0);
  });
});
