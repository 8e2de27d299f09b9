import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashCache, canonicalJson, hashFile, stageKey } from '../../src/pipeline/hash.js';
import { emptyLock, lockText, readLock, withStage, writeLock } from '../../src/pipeline/lock.js';
import { parseRecipe } from '../../src/pipeline/recipe.js';
import { upstreamResults } from '../../src/pipeline/results.js';
import { type Plan, type PlannedStage, planRecipe } from '../../src/pipeline/stages.js';
import { checkAll } from '../../src/pipeline/state.js';
import { tempDir } from '../helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-pipeline-cache-');
  writeFileSync(join(tmp.dir, 'm.gguf'), 'model bytes');
  writeFileSync(join(tmp.dir, 'd.jsonl'), '{"instruction":"a","response":"b"}\n');
});
afterAll(() => tmp.cleanup());

function plan(rank: number, out = 'out'): Plan {
  const text = `model:\n  id: ${join(tmp.dir, 'm.gguf')}\n  output_dir: ${join(tmp.dir, out)}\n  name: m\nfinetune:\n  data: ${join(tmp.dir, 'd.jsonl')}\n  rank: ${rank}\n`;
  return planRecipe(parseRecipe(text, 'r.yaml'));
}

describe('stage keys', () => {
  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
  });

  it('files are stream-hashed to their sha256', async () => {
    const p = join(tmp.dir, 'd.jsonl');
    expect(await hashFile(p)).toBe(createHash('sha256').update('{"instruction":"a","response":"b"}\n').digest('hex'));
  });

  it('a key changes with an option and with an input byte, not with the output folder', async () => {
    for (const d of ['out', 'elsewhere']) {
      mkdirSync(join(tmp.dir, d), { recursive: true });
      writeFileSync(join(tmp.dir, d, 'm.apr'), 'imported');
    }
    const ft = (p: Plan): PlannedStage => {
      const s = p.stages[1];
      if (!s) throw new Error('no finetune stage');
      return s;
    };
    const k8 = await stageKey(ft(plan(8)), new HashCache());
    expect(k8).toMatch(/^[0-9a-f]{64}$/);
    expect(await stageKey(ft(plan(8, 'elsewhere')), new HashCache())).toBe(k8);
    expect(await stageKey(ft(plan(4)), new HashCache())).not.toBe(k8);
    writeFileSync(join(tmp.dir, 'd.jsonl'), '{"instruction":"a","response":"c"}\n');
    expect(await stageKey(ft(plan(8)), new HashCache())).not.toBe(k8);
    writeFileSync(join(tmp.dir, 'd.jsonl'), '{"instruction":"a","response":"b"}\n');
  });
});

describe('lock and states', () => {
  it('done when key and output hashes match; stale on an edited output or option; later stages follow', async () => {
    const p = plan(8);
    mkdirSync(p.outputDir, { recursive: true });
    const [imp, ft] = p.stages;
    if (!imp || !ft) throw new Error('two stages expected');
    writeFileSync(join(p.outputDir, 'm.apr'), 'imported');
    const hashes = new HashCache();
    const key = await stageKey(imp, hashes);
    const outputs = (await hashes.output(p.outputDir, 'm.apr')) ?? {};
    let lock = withStage(emptyLock(), 'import', { name: 'import', key: key ?? '', command: ['apr import x'], outputs });
    lock = withStage(lock, 'finetune', { name: 'finetune', key: 'k', command: [], outputs: {} });
    writeLock(p.outputDir, lock, ['import', 'finetune']);
    const read = readLock(p.outputDir).lock;
    expect((await checkAll(p, read, new HashCache())).map((c) => c.state)).toEqual(['done', 'stale']);
    writeFileSync(join(p.outputDir, 'm.apr'), 'hand-edited');
    const after = await checkAll(p, read, new HashCache());
    expect(after.map((c) => c.state)).toEqual(['stale', 'stale']);
    expect(after[0]?.reason).toBe('output changed or missing: m.apr');
    expect(after[1]?.reason).toBe('an earlier stage will rerun');
  });

  it('the lock text has a fixed key order, recipe stage order and no times', () => {
    let lock = withStage(emptyLock(), 'eval', { name: 'eval', key: 'k2', command: ['apr eval'], outputs: { 'z.json': '2', 'a.json': '1' } });
    lock = withStage(lock, 'import', { name: 'import', key: 'k1', command: ['apr import'], outputs: { 'm.apr': '0' } });
    const text = lockText(lock, ['import', 'eval']);
    const parsed = JSON.parse(text) as { stages: { name: string; outputs: Record<string, string> }[] };
    expect(Object.keys(parsed)).toEqual(['lock_version', 'apr', 'stages']);
    expect(parsed.stages.map((s) => s.name)).toEqual(['import', 'eval']);
    expect(Object.keys(parsed.stages[1]?.outputs ?? {})).toEqual(['a.json', 'z.json']);
    expect(text).not.toMatch(/time|date/i);
  });

  it('a corrupt lock is reported and treated as empty', () => {
    const dir = join(tmp.dir, 'corrupt');
    mkdirSync(dir);
    writeFileSync(join(dir, 'pipeline.lock.json'), '{"stages": [1');
    const r = readLock(dir);
    expect(r.lock.stages).toEqual([]);
    expect(r.problem).toMatch(/unreadable lock/);
  });
});

describe('results in upstream shape', () => {
  it('maps apr eval --json to benchmark/model/config/results/problems, pass@k in percent', () => {
    const evalJson = {
      model: 'm.apr',
      config: { n_samples: 10, temperature: 0.8, prompt_strategy: 'standard', timeout_ms: 10000, workers: 2 },
      results: { total: 2, passed: 1, pass_at_1: 0.25, pass_at_k: { '1': 0.25, '10': 0.5 } },
      problems: [
        { task_id: 'A/0', n: 10, c: 5, samples: [{ status: 'passed' }] },
        { task_id: 'A/1', n: 10, c: 0, samples: [{ status: 'error' }, { status: 'timeout' }] },
      ],
    };
    const r = upstreamResults(JSON.stringify(evalJson), 'humaneval', 'm.apr', 512);
    expect(r.results).toEqual({ total: 2, completed: 2, passed: 1, errors: 1, pass_at_1: 25, pass_at_10: 50, pass_at_k: { '1': 0.25, '10': 0.5 } });
    expect(r.config).toMatchObject({ max_tokens: 512, num_samples: 10, temperature: 0.8, timeout_seconds: 10 });
    expect(r.problems).toEqual([{ task_id: 'A/0', n: 10, passed: 5 }, { task_id: 'A/1', n: 10, passed: 0 }]);
  });
});
