import { describe, expect, test } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { modelCompletionSource } from '../../src/eval/code/model-source.js';
import type { CodeProblem, GenerationRequest } from '../../src/eval/code/types.js';
import { generate } from '../../src/model/index.js';
import { createSession } from '../../src/model/session.js';
import { fixture } from '../helpers.js';

const session = createSession(openModel(fixture('gguf/tiny-draft-llama-f32.gguf')));
const tok = session.tokenizer;

/** What the source gave before batching: one `generate` per sample, then a full forward pass for the log-probability. */
function sequential(prompt: string, req: GenerationRequest, seed: number, maxTokens: number): { text: string; meanLogprob: number | null } {
  const ids = tok.encode(prompt, { addSpecialTokens: true });
  const seen: number[] = [];
  const r = generate(session.model, ids, { maxTokens, temperature: req.temperature, topP: req.topP, seed, stopTokens: tok.stopTokenIds }, (id) => {
    seen.push(id);
    const text = tok.decode(seen, { skipSpecialTokens: true });
    return !req.stop.some((s) => text.includes(s));
  });
  if (r.ids.length === 0) return { text: '', meanLogprob: null };
  const all = session.model.logitsAll([...ids, ...r.ids]);
  const V = session.model.config.vocab_size;
  let sum = 0;
  r.ids.forEach((id, i) => {
    const row = all.subarray((ids.length - 1 + i) * V, (ids.length + i) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    sum += (row[id] ?? 0) - max - Math.log(z);
  });
  return { text: tok.decode(r.ids, { skipSpecialTokens: true }), meanLogprob: sum / r.ids.length };
}

describe('apr eval N-sampling through the batched decoder (model-batch-decoder-v1)', () => {
  test('[ob:batch-seed-invariance] two problems x 5 samples in flight together equal sequential generation, log-probabilities bit for bit', async () => {
    const source = modelCompletionSource(session, 20, { parallel: 4 });
    const problem = { taskId: 'p' } as CodeProblem;
    const reqs: GenerationRequest[] = [
      { prompt: 'def add(a, b):\n', temperature: 0.8, topP: 0.95, seed: 10, stop: ['\ndef', '\nclass'] },
      { prompt: 'import os\n\ndef walk(path):\n', temperature: 1.0, topP: 0.9, seed: 99, stop: ['\n\n'] },
    ];
    const got = await Promise.all(reqs.map((r) => source(problem, 5, r)));
    reqs.forEach((r, k) => {
      const want = Array.from({ length: 5 }, (_, s) => sequential(r.prompt, r, r.seed + s, 20));
      expect(got[k]).toEqual(want);
    });
    expect(new Set(got.flat().map((c) => c.text)).size).toBeGreaterThan(3);
  });
});
