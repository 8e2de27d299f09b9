import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CheckReport, checkModel } from '../../ops/check.js';
import type { ArchConfig, ProvenanceEntry } from '../../tensor/bundle.js';
import { sha256Digest } from '../../tensor/digest.js';
import { elementCount } from '../../tensor/dtype.js';
import { SCHEMES } from '../../tensor/quant/recipes.js';
import type { Embedded } from './embedded.js';
import { openEmbedded } from './embedded.js';

interface ExeInfo {
  name: string;
  architecture: string;
  config: ArchConfig;
  parameters: number;
  tensor_count: number;
  dtypes: Record<string, number>;
  /** `from`: where the scheme name comes from (the provenance chain, or the GGUF file type of the source). */
  quantization: { scheme: string | null; from: 'provenance' | 'gguf general.file_type' | null; bits_per_weight: number };
  tokenizer: { vocab_size: number; chat_template: boolean } | null;
  weights: { bytes: number; sha256: string };
  provenance: ProvenanceEntry[];
  runtime: { node: string; apr: string; target: string };
}

type Quantization = ExeInfo['quantization'];

/**
 * The scheme of the newest quantize step in the provenance chain (or the compile option); else, for weights
 * imported from GGUF, the scheme with the file's llama_ftype (general.file_type); else none.
 */
function schemeOf(chain: readonly ProvenanceEntry[], metadata: Record<string, unknown>): Pick<Quantization, 'scheme' | 'from'> {
  for (const p of [...chain].reverse()) {
    const s = p.options['scheme'] ?? p.options['quantize'];
    if ((p.op === 'quantize' || p.op === 'compile') && typeof s === 'string') return { scheme: s, from: 'provenance' };
  }
  const gguf = metadata['gguf'];
  const ftype = typeof gguf === 'object' && gguf !== null ? (gguf as Record<string, unknown>)['general.file_type'] : undefined;
  const scheme = Object.entries(SCHEMES).find(([, s]) => 'ftype' in s && s.ftype === ftype)?.[0];
  return scheme ? { scheme, from: 'gguf general.file_type' } : { scheme: null, from: null };
}

/** `--info`: read from the APR index and metadata only (no tensor bytes, no CRC pass). */
export function embeddedInfo(e: Embedded): ExeInfo {
  const bundle = openEmbedded(e, false);
  try {
    const dtypes: Record<string, number> = {};
    let parameters = 0;
    let bytes = 0;
    for (const entry of bundle.entries) {
      dtypes[entry.dtype] = (dtypes[entry.dtype] ?? 0) + 1;
      parameters += elementCount(entry.shape);
      bytes += entry.size;
    }
    const provenance = [...bundle.provenance, e.manifest.provenance];
    const template = bundle.tokenizer?.chatTemplate;
    return {
      name: e.manifest.name,
      architecture: bundle.config.architecture,
      config: bundle.config,
      parameters,
      tensor_count: bundle.entries.length,
      dtypes,
      quantization: { ...schemeOf(provenance, bundle.metadata), bits_per_weight: parameters ? (8 * bytes) / parameters : 0 },
      tokenizer: bundle.tokenizer ? { vocab_size: bundle.config.vocab_size, chat_template: typeof template === 'string' && template.length > 0 } : null,
      weights: { bytes: e.manifest.weights.bytes, sha256: e.manifest.weights.sha256 },
      provenance,
      runtime: { node: process.version, apr: e.manifest.tool_version, target: e.manifest.target },
    };
  } finally {
    bundle.tensors.close();
  }
}

export interface ExeCheckReport extends CheckReport {
  /** SHA-256 of the embedded APR file against the digest recorded at compile time. */
  weights_digest: { recorded: string; computed: string; match: boolean };
}

/**
 * `--check`: the ten-stage `apr check` on the embedded APR file plus its whole-file digest. The stages read
 * a path, so the file is written to a private temporary folder for the check and removed afterwards.
 */
export function checkEmbedded(e: Embedded): ExeCheckReport {
  const computed = sha256Digest(e.bytes);
  const dir = mkdtempSync(join(tmpdir(), 'apr-compiled-check-'));
  try {
    const path = join(dir, 'model.apr');
    writeFileSync(path, e.bytes, { mode: 0o600 });
    const report = checkModel(path);
    const recorded = e.manifest.weights.sha256;
    const stages = report.stages.map((s) => ({ ...s, details: s.details.replaceAll(path, e.name) }));
    return { ...report, stages, model: e.name, weights_digest: { recorded, computed, match: recorded === computed } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
