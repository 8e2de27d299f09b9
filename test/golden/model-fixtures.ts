import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openSafetensors } from '../../src/formats/safetensors/read.js';

/** Reference outputs of transformers (float32, CPU, eager attention) from ../shared/fixtures/reference. */

export const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');

export interface ReferencePrompt {
  text: string;
  ids: number[];
  last_argmax: number;
  greedy_32: number[];
}

export interface Reference {
  prompts: ReferencePrompt[];
  heldout_ppl: { tokens: number; mean_nll: number; perplexity: number };
}

export function loadReference(model: string): Reference {
  return JSON.parse(readFileSync(path.join(FIXTURES, 'reference', `${model}.reference.json`), 'utf8')) as Reference;
}

/** The reference logits of prompt i: [len(ids) · vocab] floats. */
export function referenceLogits(model: string): (i: number) => Float32Array {
  const file = openSafetensors(path.join(FIXTURES, 'reference', `${model}.logits.safetensors`));
  return (i) => {
    const ref = file.get(`prompt${i}.logits`);
    if (!ref) throw new Error(`prompt${i}.logits missing`);
    const b = ref.read();
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
