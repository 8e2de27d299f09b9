import { existsSync } from 'node:fs';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { openModel } from '../formats/open.js';
import type { SyncWebGpuOptions } from '../kernels/webgpu/sync-backend.js';
import { createSession } from '../model/session.js';
import { type GoldenCase, type QaCheck, check, goldenCheck, metadataCheck, perplexityCheck, readGoldenCases, throughputCheck } from '../eval/qa/checks.js';
import { backendParityCheck, formatParityCheck, parityIds } from '../eval/qa/parity.js';
import { checkModel } from './check.js';
import { exportModel } from './model-io.js';

export type { QaCheck, QaStatus } from '../eval/qa/checks.js';

export interface QaOptions {
  /** Baseline JSON: written when the file does not exist, else read and compared. */
  baseline?: string;
  /** Golden cases: a JSON array or JSON Lines of {prompt, expected, max_tokens?}. */
  golden?: string;
  /** Throughput floor in decode tokens per second (default 1). */
  minTps?: number;
  /** Text for the perplexity check (default a built-in Python sample). */
  pplData?: string;
  /** Options of the WebGPU backend for the backend-parity check (tests plant a faulty kernel through `fault`); false skips it. */
  webgpu?: SyncWebGpuOptions | false;
}

export interface QaReport {
  model: string;
  checks: QaCheck[];
  passed: number;
  failed: number;
  skipped: number;
  /** No check failed. */
  pass: boolean;
}

function integrityChecks(path: string): QaCheck[] {
  const r = checkModel(path, { forward: true });
  return r.stages.map((s) => {
    const status = s.status === 'FAIL' ? 'FAIL' : s.status === 'SKIP' ? 'SKIP' : 'PASS';
    return check(`check ${s.id}: ${s.name}`, status, s.status === 'WARN' ? `warn: ${s.details}` : s.details);
  });
}

function modelChecks(path: string, opts: QaOptions, cases: GoldenCase[] | undefined): QaCheck[] {
  const bundle = openModel(path, { verifyFooter: true });
  const metadata = bundle.metadata;
  const config = bundle.config;
  const session = createSession(bundle, { backend: 'cpu' });
  try {
    const ids = parityIds(session);
    return [
      metadataCheck(config),
      goldenCheck(session, metadata, cases),
      throughputCheck(session, opts.minTps),
      perplexityCheck(session, opts.pplData, opts.baseline),
      formatParityCheck(path, session, ids, (input, output, format) => void exportModel({ input, output, format, golden: false })),
      backendParityCheck(path, ids, opts.webgpu ?? {}),
    ];
  } finally {
    session.model.dispose();
  }
}

function tally(model: string, checks: QaCheck[]): QaReport {
  const count = (s: QaCheck['status']): number => checks.filter((c) => c.status === s).length;
  const failed = count('FAIL');
  return { model, checks, passed: count('PASS'), failed, skipped: count('SKIP'), pass: failed === 0 };
}

export const qaContract = defineContract<{ path: string; opts: QaOptions }, QaReport>({
  id: 'op-qa-v1',
  equation: 'qa_gate',
  spec: 'qa(m) = (c_1(m), …, c_k(m)), c_i ∈ {PASS, FAIL, SKIP}; pass ⇔ ∀i c_i ≠ FAIL; #PASS + #FAIL + #SKIP = k',
  pre: [
    ['model exists', ({ path }) => existsSync(path)],
    ['throughput floor ≥ 0 when given', ({ opts }) => opts.minTps === undefined || (Number.isFinite(opts.minTps) && opts.minTps >= 0)],
  ],
  post: [
    ['counts add up', (_i, r) => r.passed + r.failed + r.skipped === r.checks.length],
    ['pass ⇔ no check failed', (_i, r) => r.pass === r.checks.every((c) => c.status !== 'FAIL')],
    ['every check named, with a reason', (_i, r) => r.checks.every((c) => c.name.length > 0 && c.details.length > 0)],
  ],
});

/**
 * `apr qa`: the release gate. The ten `apr check` stages, then metadata plausibility, golden outputs,
 * throughput floor, perplexity against a baseline, format parity (APR ↔ GGUF) and backend parity (WebGPU ↔
 * CPU): each PASS, FAIL or SKIP with a one-line reason.
 */
export function runQa(path: string, opts: QaOptions = {}): QaReport {
  if (!existsSync(path)) throw new FormatError(path, 'path', 'no such file or directory');
  for (const f of [opts.golden, opts.pplData]) if (f !== undefined && !existsSync(f)) throw new FormatError(f, 'path', 'no such file or directory');
  const cases = opts.golden !== undefined ? readGoldenCases(opts.golden) : undefined;
  return qaContract.run({ path, opts }, () => tally(path, [...integrityChecks(path), ...modelChecks(path, opts, cases)]));
}
