import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { readPeftAdapter } from '../../src/formats/peft/adapter.js';
import { mergeLora } from '../../src/formats/peft/merge.js';
import { loadModel } from '../../src/model/index.js';
import type { AlignResult } from '../../src/ops/align.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const DRAFT = fixture('models/tiny-draft-llama');
let tmp: ReturnType<typeof tempDir>;
let data: string;

/** Pairs: chosen = the real continuation of a Python snippet, rejected = its words reversed. */
beforeAll(() => {
  tmp = tempDir('apr-align-cli-');
  data = join(tmp.dir, 'prefs.jsonl');
  const src = readFileSync(fixture('reference/heldout.py.txt'), 'utf8');
  const lines = [0, 1, 2, 3, 4].map((i) => {
    const s = src.slice(i * 300, i * 300 + 90);
    return JSON.stringify({ prompt: s.slice(0, 50), chosen: s.slice(50), rejected: s.slice(50).split(' ').reverse().join(' ') });
  });
  writeFileSync(data, lines.join('\n'));
});
afterAll(() => tmp.cleanup());

describe('apr align (CLI, tiny runs)', () => {
  it('DPO with --lora writes a PEFT adapter that loads and merges; held-out margin starts at 0 [ob:align-initial-margin-zero] [ob:align-writes-loadable]', () => {
    const out = join(tmp.dir, 'dpo-adapter');
    const r = runCli('apr', ['align', DRAFT, '--method', 'dpo', '--data', data, '--lora', '--rank', '2', '--epochs', '2', '--max-seq-len', '48', '--json', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout) as AlignResult;
    expect(res.format).toBe('peft');
    expect(Math.abs(res.initial['reward_margin'] ?? NaN)).toBeLessThanOrEqual(1e-9);
    expect(res.history).toHaveLength(2);
    for (const h of res.history) {
      expect(h.valMetrics['accuracy']).toBeGreaterThanOrEqual(0);
      expect(h.valMetrics['accuracy']).toBeLessThanOrEqual(1);
    }
    const adapter = readPeftAdapter(out);
    expect(adapter.config.r).toBe(2);
    const merged = loadModel(mergeLora(openModel(DRAFT), adapter)).logitsAll([5, 6, 7]);
    expect(merged.every(Number.isFinite)).toBe(true);
  });

  it('ORPO (full) writes a loadable APR; table output has one row per epoch', () => {
    const out = join(tmp.dir, 'orpo.apr');
    const r = runCli('apr', ['align', DRAFT, '--method', 'orpo', '--data', data, '--epochs', '2', '--max-seq-len', '48', '-o', out]);
    expect(r.status).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l));
    expect(rows).toHaveLength(2);
    expect(r.stdout).toMatch(/wrote .*orpo\.apr \(apr/);
    expect(loadModel(openModel(out)).logitsAll([1, 2]).every(Number.isFinite)).toBe(true);
  });

  it('refuses an unknown method with exit 2', () => {
    const r = runCli('apr', ['align', DRAFT, '--method', 'ppo', '--data', data, '-o', join(tmp.dir, 'x.apr')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--method dpo\|orpo/);
  });
});
