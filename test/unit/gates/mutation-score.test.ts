import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCompliance } from '../../../gates/registry.js';
import { CLEAN, plant, removePlanted } from './fixture.js';

afterAll(removePlanted);

const STATS = readFileSync(join(CLEAN, 'src/stats.ts'), 'utf8');
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A summary for src/stats.ts with `killed` of 10 valid mutants detected (one timed out among them). */
function summary(killed: number, source = STATS): string {
  const counts = { Killed: killed - 1, Timeout: 1, Survived: 10 - killed - 1, NoCoverage: 1, Ignored: 2 };
  return JSON.stringify({ schema: 'apr-mutation-summary-v1', files: { 'src/stats.ts': { sha256: sha(source), counts, survived: [], ignored: [] } } });
}

function config(floor: Record<string, unknown>): string {
  return JSON.stringify({ checks: { 'CB-045': { thresholds: { folders: { 'src/stats.ts': floor } } } } });
}

async function check(files: Record<string, string>) {
  const r = await runCompliance(plant(files), { only: ['CB-045'], cache: false, strict: true });
  const c = r.checks[0];
  return { status: c?.status, message: c?.message ?? '', findings: c?.findings.map((f) => f.message) ?? [] };
}

describe('CB-045 mutation score (StrykerJS summary) per folder against its floor', () => {
  it('passes at the floor: score = (killed + timeout) / (killed + timeout + survived + no coverage), ignored apart', async () => {
    const r = await check({ 'pmat.config.json': config({ floor: 70, baseline: 70 }), 'mutation/summary.json': summary(7) });
    expect(r.status).toBe('pass');
    expect(r.message).toBe('src/stats.ts 70.0% (floor 70%, 10 mutants, 2 equivalent)');
  });

  it('fails under the floor', async () => {
    const r = await check({ 'pmat.config.json': config({ floor: 70, baseline: 70 }), 'mutation/summary.json': summary(6) });
    expect(r.status).toBe('fail');
    expect(r.findings).toEqual(['src/stats.ts: mutation score 60.0% < floor 70%']);
  });

  it('fails when the source changed since the mutants were made (stale entry)', async () => {
    const r = await check({ 'pmat.config.json': config({ floor: 50, baseline: 50 }), 'mutation/summary.json': summary(9, `${STATS}\n// edited\n`) });
    expect(r.status).toBe('fail');
    expect(r.findings).toEqual(['src/stats.ts: 1 file(s) without a current mutation result (e.g. src/stats.ts): run npm run mutation -- src/stats.ts']);
  });

  it('a floor lowered under its baseline needs a written reason', async () => {
    const bare = await check({ 'pmat.config.json': config({ floor: 60, baseline: 75 }), 'mutation/summary.json': summary(9) });
    expect(bare.findings).toEqual(['src/stats.ts: floor 60% is under the 75% it was set from, with no reason']);
    const reasoned = await check({ 'pmat.config.json': config({ floor: 60, baseline: 75, reason: 'parser rewrite; tests follow in #31' }), 'mutation/summary.json': summary(9) });
    expect(reasoned.status).toBe('pass');
  });

  it('a floor that lists files counts only those (the folder’s other files are named as not covered); static mutants stay outside the score', async () => {
    const counts = { Killed: 3, Survived: 1, Static: 5, Ignored: 1 };
    const files = { 'src/stats.ts': { sha256: sha(STATS), counts, survived: [], ignored: [] } };
    const folder = { floor: 75, baseline: 75, files: ['src/stats.ts'] };
    const r = await check({
      'pmat.config.json': JSON.stringify({ checks: { 'CB-045': { thresholds: { folders: { src: folder } } } } }),
      'mutation/summary.json': JSON.stringify({ schema: 'apr-mutation-summary-v1', files }),
    });
    expect(r.status).toBe('pass');
    expect(r.message).toMatch(/^src 75\.0% \(floor 75%, 4 mutants, 1 equivalent, 5 static not run, 1 listed file\(s\), \d+ not covered\)$/);
    const stale = await check({
      'pmat.config.json': JSON.stringify({ checks: { 'CB-045': { thresholds: { folders: { src: { ...folder, files: ['src/stats.ts', 'src/gone.ts'] } } } } } }),
      'mutation/summary.json': JSON.stringify({ schema: 'apr-mutation-summary-v1', files }),
    });
    expect(stale.findings).toEqual(['src: 1 file(s) without a current mutation result (e.g. src/gone.ts): run npm run mutation -- src']);
  });

  it('fails when the summary is missing', async () => {
    const r = await check({ 'pmat.config.json': config({ floor: 50, baseline: 50 }) });
    expect(r.findings).toEqual(['mutation/summary.json: missing or malformed (run npm run mutation)']);
  });
});
