import { generate } from '../../model/generate.js';
import type { Session } from '../../model/session.js';
import type { CompletionSource, GeneratedCompletion } from './types.js';

/** Mean log-probability of `completion` given `prompt` under the model (one batched forward pass). */
function meanLogprob(session: Session, prompt: readonly number[], completion: readonly number[]): number | null {
  if (completion.length === 0) return null;
  const ids = [...prompt, ...completion];
  const logits = session.model.logitsAll(ids);
  const vocab = logits.length / ids.length;
  let sum = 0;
  for (let i = 0; i < completion.length; i++) {
    const row = (prompt.length - 1 + i) * vocab;
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits[row + j] ?? -Infinity);
    let z = 0;
    for (let j = 0; j < vocab; j++) z += Math.exp((logits[row + j] ?? -Infinity) - max);
    sum += (logits[row + (completion[i] ?? 0)] ?? 0) - max - Math.log(z);
  }
  return sum / completion.length;
}

/**
 * Completions from a loaded model: n samples per problem (seeds seed, seed+1, ...), each stopped at the
 * first stop string in its decoded text or at `maxTokens`, with its mean token log-probability.
 */
export function modelCompletionSource(session: Session, maxTokens: number): CompletionSource {
  return (_problem, n, request) => {
    const prompt = session.tokenizer.encode(request.prompt, { addSpecialTokens: true });
    const out: GeneratedCompletion[] = [];
    for (let s = 0; s < n; s++) {
      const ids: number[] = [];
      const r = generate(
        session.model,
        prompt,
        { maxTokens, temperature: request.temperature, topP: request.topP, seed: request.seed + s, stopTokens: session.tokenizer.stopTokenIds },
        (id) => {
          ids.push(id);
          const text = session.tokenizer.decode(ids, { skipSpecialTokens: true });
          return !request.stop.some((stop) => text.includes(stop));
        },
      );
      const text = session.tokenizer.decode(r.ids, { skipSpecialTokens: true });
      out.push({ text, meanLogprob: meanLogprob(session, prompt, r.ids) });
    }
    return Promise.resolve(out);
  };
}
