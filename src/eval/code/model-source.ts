import { BatchEngine, type BatchEngineOptions, type BatchResult } from '../../model/batch-decoder.js';
import { fitContext } from '../../model/generate.js';
import type { Session } from '../../model/session.js';
import type { CompletionSource, GeneratedCompletion, GenerationRequest } from './types.js';

/** Mean log-probability of the generated tokens (log-softmax of the raw logits at each step); null when none. */
function meanLogprob(r: BatchResult): number | null {
  const lps = r.logprobs ?? [];
  if (lps.length === 0) return null;
  let sum = 0;
  for (const lp of lps) sum += lp;
  return sum / lps.length;
}

/** One sample: decoded until a stop string appears in its text, `maxTokens` or a stop token. */
async function sample(engine: BatchEngine, session: Session, prompt: number[], request: GenerationRequest, seed: number, maxTokens: number): Promise<GeneratedCompletion> {
  const ids: number[] = [];
  const r = await engine.enqueue(
    { promptIds: prompt, maxTokens, temperature: request.temperature, topP: request.topP, seed, stopTokens: session.tokenizer.stopTokenIds, logprobs: true },
    { onToken: (id) => {
      ids.push(id);
      const text = session.tokenizer.decode(ids, { skipSpecialTokens: true });
      return !request.stop.some((stop) => text.includes(stop));
    } },
  );
  return { text: session.tokenizer.decode(r.ids, { skipSpecialTokens: true }), meanLogprob: meanLogprob(r) };
}

/**
 * Completions from a loaded model: n samples per problem (seeds seed, seed+1, ...), each stopped at the
 * first stop string in its decoded text or at `maxTokens` (lowered to what the model's context leaves), with
 * its mean token log-probability. All samples go through one continuous-batching engine (`engine`:
 * --parallel, --kv-budget), so the samples of a problem, and of problems requested concurrently, are decoded
 * together; a sample's tokens do not depend on what shares its batch.
 */
export function modelCompletionSource(session: Session, maxTokens: number, engine: BatchEngineOptions = {}): CompletionSource {
  const context = session.model.config.max_position_embeddings;
  let eng: BatchEngine | undefined;
  return (_problem, n, request) => {
    eng ??= new BatchEngine(session.model, { contextLength: context, ...engine });
    const prompt = session.tokenizer.encode(request.prompt, { addSpecialTokens: true });
    const budget = fitContext(prompt.length, maxTokens, context).maxTokens;
    const e = eng;
    return Promise.all(Array.from({ length: n }, (_, s) => sample(e, session, prompt, request, request.seed + s, budget)));
  };
}
