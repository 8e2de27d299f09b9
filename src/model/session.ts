import { FormatError } from '../formats/errors.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { type Tokenizer, loadTokenizer } from '../tokenizer/index.js';
import type { Model } from './decoder.js';
import { loadModel } from './load.js';

/** A model with its tokenizer, loaded once and used for many prompts. */
export interface Session {
  readonly path: string;
  readonly model: Model;
  readonly tokenizer: Tokenizer;
  readonly loadMs: number;
}

/** Loads the weights and the tokenizer of a bundle; closes the bundle's files afterwards. */
export function createSession(bundle: ModelBundle): Session {
  const t0 = performance.now();
  try {
    if (!bundle.tokenizer) throw new FormatError(bundle.source.path, 'tokenizer', 'the model carries no tokenizer (tokenizer.json / tokenizer.ggml.* / embedded APR tokenizer)');
    const tokenizer = loadTokenizer(bundle.tokenizer, { source: `${bundle.source.path}: tokenizer`, modelConfig: bundle.config });
    const model = loadModel(bundle);
    return { path: bundle.source.path, model, tokenizer, loadMs: performance.now() - t0 };
  } finally {
    bundle.tensors.close();
  }
}
