import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { harnessDigest } from '../../src/contract/pv/prove.js';
import type { ProofResult } from '../../src/contract/pv/facts.js';

export const STATUS_FIXTURE = resolve(process.cwd(), 'test/fixtures/pv/status');

function write(root: string, rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

function proof(root: string, id: string, contract: string, obligation: string, harness: string, status: ProofResult['status'], fresh = true): ProofResult {
  return {
    id, contract, obligation, harness, status, bound: 8, timeout_s: 20, wall_ms: 12, cpu_ms: 10, queries: 1, time: '2025-01-01T00:00:00.000Z',
    harness_sha256: fresh ? harnessDigest(root, harness) : 'f'.repeat(64),
    ...(status === 'refuted' ? { counterexample: { x: '3' } } : {}),
  };
}

/**
 * A small project in a temp folder: the six fixture contracts (alpha L5, beta L2 with a refuted proof, gamma L1
 * with a failed test, delta L0 unbound, eps L3 with no decidable obligation, zeta L2 with a stale proof),
 * the binding registry, recorded test results and proof results.
 */
export function makeStatusProject(): string {
  const root = mkdtempSync(join(tmpdir(), 'pv-status-'));
  cpSync(join(STATUS_FIXTURE, 'contracts'), join(root, 'contracts'), { recursive: true });
  for (const h of ['alpha', 'beta', 'zeta']) write(root, `proofs/${h}.ts`, `export const proofs = []; // ${h}\n`);
  const bind = (contract: string, file: string, symbol: string) => ({ contract, equation: 'f', file, symbol, obligations: [] });
  write(root, 'contracts/binding.json', JSON.stringify({
    contracts: [bind('alpha-v1', 'src/ops/alpha.ts', 'alpha'), bind('beta-v1', 'src/kernels/beta.ts', 'beta'), bind('gamma-v1', 'src/ops/gamma.ts', 'gamma'), bind('eps-v1', 'src/ops/eps.ts', 'eps'), bind('zeta-v1', 'src/model/zeta.ts', 'zeta')],
    unbound: [],
    exported_ops_and_kernels: 6,
  }));
  const t = (obligation: string, file: string, state: string) => ({ obligation, test: `${obligation} test [ob:${obligation}]`, file: join(root, file), state });
  write(root, '.pv/test-results.json', JSON.stringify({
    time: '2025-01-01T00:00:00.000Z',
    results: [
      t('alpha-a', 'test/alpha.test.ts', 'passed'), t('alpha-b', 'test/alpha.test.ts', 'passed'), t('alpha-b', 'test/golden/alpha.test.ts', 'passed'),
      t('beta-a', 'test/beta.test.ts', 'passed'),
      t('gamma-a', 'test/gamma.test.ts', 'passed'), t('gamma-a', 'test/gamma.test.ts', 'failed'),
      t('delta-a', 'test/delta.test.ts', 'passed'),
      t('eps-a', 'test/eps.test.ts', 'passed'),
      t('zeta-a', 'test/zeta.test.ts', 'passed'),
    ],
  }));
  write(root, '.pv/proof-results.json', JSON.stringify({
    version: 1, time: '2025-01-01T00:00:00.000Z', z3: '4.x',
    results: [proof(root, 'PF-alpha', 'alpha-v1', 'alpha-a', 'proofs/alpha.ts', 'proved'), proof(root, 'PF-beta', 'beta-v1', 'beta-a', 'proofs/beta.ts', 'refuted'), proof(root, 'PF-zeta', 'zeta-v1', 'zeta-a', 'proofs/zeta.ts', 'proved', false)],
  }));
  return root;
}
