/**
 * The parity checks of `apr qa`: the same model in another container format (APR ↔ GGUF), and on the WebGPU
 * backend, must give the CPU's logits within a stated bound.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectFormat, openModel } from '../../formats/open.js';
import { compareLogits, PARITY_MAX_REL_ERROR, PARITY_MIN_COSINE } from '../../kernels/webgpu/parity.js';
import { createSyncWebGpuBackend, type SyncWebGpuOptions } from '../../kernels/webgpu/sync-backend.js';
import { createCpuBackend } from '../../kernels/cpu/index.js';
import { loadModel } from '../../model/load.js';
import { createSession, type Session } from '../../model/session.js';
import { check, type QaCheck } from './checks.js';

/** The text whose logits the parity checks compare (at most 32 tokens). */
const PARITY_TEXT = 'import os\n\ndef read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()\n';

export function parityIds(session: Session): number[] {
  const V = session.model.config.vocab_size;
  const ids = session.tokenizer.encode(PARITY_TEXT, { addSpecialTokens: false }).filter((id) => id < V).slice(0, 32);
  return ids.length > 0 ? ids : [0, 1, 2, 3].filter((id) => id < V);
}

/**
 * Format parity bound: max |Δlogit| ≤ 1e-6 · max |logit|. Export is lossless (the same tensor bytes in
 * another container) and both files run through the same kernels, so the logits are expected bit-identical;
 * the bound admits only a different summation order, ~k·2⁻²⁴ relative, and catches any changed weight
 * (an F16 rounding alone moves logits by ~1e-3 of their range).
 */
const FORMAT_PARITY_MAX_REL = 1e-6;

function maxRelDiff(ref: Float32Array, got: Float32Array): { abs: number; rel: number } {
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs((ref[i] as number) - (got[i] as number));
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    maxRef = Math.max(maxRef, Math.abs(ref[i] as number));
  }
  return { abs: maxAbs, rel: maxRef > 0 ? maxAbs / maxRef : maxAbs };
}

/** Writes the model at `input` to `output` in `format` (the export op, passed in from src/ops). */
export type Exporter = (input: string, output: string, format: 'apr' | 'gguf') => void;

/** Exports the model to the other format (APR → GGUF, anything else → APR) in a temp folder and compares logits. */
export function formatParityCheck(path: string, session: Session, ids: readonly number[], exportTo: Exporter): QaCheck {
  const from = detectFormat(path);
  const to = from === 'apr' ? 'gguf' : 'apr';
  const dir = mkdtempSync(join(tmpdir(), 'apr-qa-'));
  try {
    const out = join(dir, `model.${to}`);
    exportTo(path, out, to);
    const other = createSession(openModel(out, { verifyFooter: true }), { backend: 'cpu' });
    try {
      const d = maxRelDiff(session.model.logitsAll(ids), other.model.logitsAll(ids));
      const line = `${from} vs ${to} export: max |Δlogit| ${d.abs.toExponential(2)} = ${d.rel.toExponential(2)} of the largest logit over ${ids.length} positions (bound ${FORMAT_PARITY_MAX_REL})`;
      return check('format parity', d.rel <= FORMAT_PARITY_MAX_REL ? 'PASS' : 'FAIL', line);
    } finally {
      other.model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** WebGPU against the CPU on the same forward pass, under the parity gate's bounds; SKIP without an adapter. */
export function backendParityCheck(path: string, ids: readonly number[], webgpu: SyncWebGpuOptions | false): QaCheck {
  if (webgpu === false) return check('backend parity', 'SKIP', 'not requested (--no-webgpu)');
  const gpu = createSyncWebGpuBackend(webgpu);
  if (!gpu.ok) return check('backend parity', 'SKIP', `no usable WebGPU adapter: ${gpu.reason}`);
  const bundle = openModel(path, { verifyFooter: true });
  try {
    const model = loadModel(bundle, { backend: gpu.backend });
    // the exact (dequantized) CPU product, as the WebGPU kernels compute it: the default CPU path rounds
    // activations to 8 bits (as llama.cpp does), a difference the parity bounds are not meant to measure
    const exact = loadModel(bundle, { backend: createCpuBackend({ integerDot: false }) });
    try {
      const ref = exact.forward(ids, 0, exact.createCache(ids.length), { allLogits: true });
      const r = compareLogits(ref, model.forward(ids, 0, model.createCache(ids.length), { allLogits: true }));
      const line = `webgpu vs cpu over ${ids.length} positions: cosine ${r.cosine.toFixed(6)} (≥ ${PARITY_MIN_COSINE}), max rel error ${r.maxRelError.toExponential(2)} (≤ ${PARITY_MAX_REL_ERROR})`;
      return check('backend parity', r.pass ? 'PASS' : 'FAIL', line);
    } finally {
      model.dispose();
      exact.dispose();
    }
  } finally {
    bundle.tensors.close();
    gpu.backend.close();
  }
}
