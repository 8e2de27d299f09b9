import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineContract } from '../contract/index.js';
import { detectFormat, openModel } from '../formats/open.js';
import type { ArchConfig, ModelBundle, ProvenanceEntry } from '../tensor/bundle.js';
import { elementCount } from '../tensor/dtype.js';

export interface TensorSummary {
  name: string;
  dtype: string;
  shape: number[];
  parameters: number;
  bytes: number;
}

export interface TokenizerSummary {
  model: string;
  vocab_size: number;
  added_tokens: string[];
  chat_template: boolean;
}

export interface InspectResult {
  path: string;
  format: string;
  file_bytes: number;
  architecture: string;
  config: ArchConfig;
  parameters: number;
  tensor_count: number;
  dtypes: Record<string, number>;
  tokenizer: TokenizerSummary | null;
  metadata_keys: string[];
  provenance: ProvenanceEntry[];
  tensors?: TensorSummary[];
}

function pathBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, n) => sum + statSync(join(path, n)).size, 0);
}

function tokenizerSummary(bundle: ModelBundle): TokenizerSummary | null {
  if (!bundle.tokenizer) return null;
  const doc = JSON.parse(bundle.tokenizer.json) as { model?: { type?: string; vocab?: Record<string, number> | unknown[] }; added_tokens?: { content: string; id: number }[] };
  const vocab = doc.model?.vocab;
  const base = Array.isArray(vocab) ? vocab.length : Object.keys(vocab ?? {}).length;
  const added = (doc.added_tokens ?? []).filter((t) => !(Array.isArray(vocab) ? t.id < base : Object.hasOwn(vocab ?? {}, t.content)));
  return {
    model: doc.model?.type ?? 'unknown',
    vocab_size: base + added.length,
    added_tokens: (doc.added_tokens ?? []).map((t) => t.content),
    chat_template: typeof bundle.tokenizer.chatTemplate === 'string' && bundle.tokenizer.chatTemplate.length > 0,
  };
}

export const inspectContract = defineContract<{ path: string }, InspectResult>({
  id: 'op-inspect-v1',
  equation: 'inspect',
  spec: 'parameters = Σ_t ∏ shape(t); tensor_count = |names|; Σ dtypes = tensor_count',
  pre: [['path given', ({ path }) => path.length > 0]],
  post: [
    ['dtype histogram sums to tensor_count', (_i, r) => Object.values(r.dtypes).reduce((a, b) => a + b, 0) === r.tensor_count],
    ['parameters = Σ element counts', (_i, r) => !r.tensors || r.tensors.reduce((a, t) => a + t.parameters, 0) === r.parameters],
  ],
});

/** `apr inspect`: architecture, parameter count, dtypes, tokenizer and metadata of any model file. */
export function inspectModel(path: string, withTensors = false): InspectResult {
  return inspectContract.run({ path }, () => {
    const format = detectFormat(path);
    const bundle = openModel(path, { verifyFooter: false });
    try {
      const tensors: TensorSummary[] = bundle.tensors.names().map((name) => {
        const t = bundle.tensors.get(name);
        const shape = [...(t?.shape ?? [])];
        return { name, dtype: t?.dtype ?? '?', shape, parameters: elementCount(shape), bytes: t?.byteLength ?? 0 };
      });
      const dtypes: Record<string, number> = {};
      for (const t of tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
      return {
        path,
        format,
        file_bytes: pathBytes(path),
        architecture: bundle.config.architecture,
        config: bundle.config,
        parameters: tensors.reduce((a, t) => a + t.parameters, 0),
        tensor_count: tensors.length,
        dtypes,
        tokenizer: tokenizerSummary(bundle),
        metadata_keys: Object.keys(bundle.metadata).sort(),
        provenance: bundle.provenance,
        ...(withTensors ? { tensors } : {}),
      };
    } finally {
      bundle.tensors.close();
    }
  });
}
