import { BatchEngine, type BatchEngineOptions, type BatchRequest } from '../../src/model/batch-decoder.js';
import type { Model } from '../../src/model/index.js';

/** Deterministic pseudo-random prompts of the given lengths (ids in [3, vocab)). */
export function prompts(lengths: readonly number[], vocab: number, seed = 1): number[][] {
  let s = seed;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31);
  return lengths.map((n) => Array.from({ length: n }, () => 3 + (next() % (vocab - 3))));
}

/** The request under test: sampled (temperature, top-p), so tokens depend on its seed's generator. */
export function target(promptIds: number[], maxTokens: number): BatchRequest {
  return { promptIds, maxTokens, temperature: 0.9, topP: 0.95, topK: 50, seed: 4242, stopTokens: [0] };
}

export interface MixResult {
  ids: number[];
  /** Most sequences seen in flight together. */
  peak: number;
}

/**
 * Runs `target` in an engine of `slots` slots together with `others` companion prompts (other lengths,
 * seeds and max tokens 6..5+span, so they leave at different steps). The target joins once the first companion has
 * produced `joinAfter` tokens, i.e. in the middle of a running batch.
 */
export async function inMix(model: Model, req: BatchRequest, others: number[][], slots: number, joinAfter: number, span = 23, extra: BatchEngineOptions = {}): Promise<MixResult> {
  const engine = new BatchEngine(model, { parallel: slots, contextLength: 96, ...extra });
  let peak = 0;
  let joined: Promise<number[]> | undefined;
  const join = (): void => {
    joined ??= engine.submit(req, { onToken: () => void (peak = Math.max(peak, engine.active)) }).then((r) => r.ids);
  };
  const companions = others.map((promptIds, i) =>
    engine.submit(
      { promptIds, maxTokens: 6 + ((i * 7) % span), temperature: 0.7 + (i % 3) * 0.2, seed: 100 + i },
      { onToken: (_id, k) => {
        peak = Math.max(peak, engine.active);
        if (i === 0 && k + 1 >= joinAfter) join();
      } },
    ),
  );
  if (others.length === 0) join();
  await Promise.all(companions);
  const ids = await (joined ?? Promise.reject(new Error('target never joined')));
  engine.close();
  return { ids, peak };
}
