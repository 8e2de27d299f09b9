import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { type ApplyJson, lockOf, writeTinyRecipe } from './pipeline-helpers.js';

let tmp: ReturnType<typeof tempDir>;
let recipe: string;
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

function apply(): ApplyJson {
  const r = runCli('apr', ['pipeline', 'apply', recipe, '--json']);
  expect(r.stderr).not.toMatch(/error/);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as ApplyJson;
}

beforeAll(() => {
  tmp = tempDir('apr-pipeline-cli-');
  recipe = writeTinyRecipe(tmp.dir, 4);
});
afterAll(() => tmp.cleanup());

describe('apr pipeline apply / status', () => {
  it('runs every stage, then a second apply runs nothing and says so', () => {
    expect(apply().ran).toEqual(['import', 'finetune', 'eval']);
    const text = runCli('apr', ['pipeline', 'apply', recipe]);
    expect(text.stderr).toBe('[import] up to date\n[finetune] up to date\n[eval] up to date\n');
    const said = /^nothing to do: all 3 stages up to date \(.*\), ([\d.]+) s\n$/.exec(text.stdout);
    expect(said).not.toBeNull();
    expect(Number(said?.[1])).toBeLessThan(2);
    const lock = lockOf(tmp.dir);
    expect(lock.stages.map((s) => s.name)).toEqual(['import', 'finetune', 'eval']);
    for (const s of lock.stages) for (const [rel, h] of Object.entries(s.outputs)) expect(sha(join(tmp.dir, 'out', rel))).toBe(h);
  }, 80_000);

  it("the eval stage's pass@k equals apr eval run by hand on the same model and data; status shows it", () => {
    const results = JSON.parse(readFileSync(join(tmp.dir, 'out', 'results', 'mini.json'), 'utf8')) as { benchmark: string; results: { pass_at_1: number; pass_at_k: Record<string, number> }; problems: { n: number; passed: number }[] };
    const byHand = runCli('apr', ['eval', join(tmp.dir, 'out', 'demo-finetuned.apr'), '--data', join(tmp.dir, 'problems.jsonl'), '--max-tokens', '16', '--temperature', '0', '--n-samples', '1', '--json']);
    expect(byHand.status).toBe(0);
    const hand = JSON.parse(byHand.stdout) as { results: { pass_at_1: number; pass_at_k: Record<string, number> }; problems: { c: number }[] };
    expect(results.benchmark).toBe('mini');
    expect(results.results.pass_at_k).toEqual(hand.results.pass_at_k);
    expect(results.results.pass_at_1).toBe(Math.round(hand.results.pass_at_1 * 10000) / 100);
    expect(results.problems.map((p) => p.passed)).toEqual(hand.problems.map((p) => p.c));
    const st = runCli('apr', ['pipeline', 'status', recipe, '--json']);
    const status = JSON.parse(st.stdout) as { stages: { name: string; state: string }[]; results: { results: { pass_at_1: number } } };
    expect(status.stages.map((s) => s.state)).toEqual(['done', 'done', 'done']);
    expect(status.results.results.pass_at_1).toBe(results.results.pass_at_1);
    expect(runCli('apr', ['pipeline', 'status', recipe]).stdout).toMatch(/eval mini: pass@1 /);
  }, 60_000);

  it('changing the LoRA rank reruns finetune and the stages after it only', () => {
    const before = lockOf(tmp.dir);
    writeTinyRecipe(tmp.dir, 2);
    const st = JSON.parse(runCli('apr', ['pipeline', 'status', recipe, '--json']).stdout) as { stages: { state: string }[] };
    expect(st.stages.map((s) => s.state)).toEqual(['done', 'stale', 'stale']);
    const r = apply();
    expect(r.ran).toEqual(['finetune', 'eval']);
    expect(r.skipped).toEqual(['import']);
    const after = lockOf(tmp.dir);
    expect(after.stages[0]).toEqual(before.stages[0]);
    expect(after.stages[1]?.key).not.toBe(before.stages[1]?.key);
  }, 80_000);

  it('a hand-edited output is detected and rebuilt', () => {
    const model = join(tmp.dir, 'out', 'demo-finetuned.apr');
    const good = sha(model);
    const bytes = readFileSync(model);
    bytes.writeUInt8((bytes.readUInt8(bytes.length - 1) ^ 0xff), bytes.length - 1);
    writeFileSync(model, bytes);
    const r = apply();
    expect(r.ran[0]).toBe('finetune');
    expect(r.skipped).toContain('import');
    expect(sha(model)).toBe(good);
  }, 80_000);

  it('a recipe error names the file and line; exit 2', () => {
    const bad = join(tmp.dir, 'bad.yaml');
    writeFileSync(bad, 'model:\n  id: m.gguf\n  output_dir: o\nfinetune:\n  data: d\n  rank: "8"\n');
    const r = runCli('apr', ['pipeline', 'plan', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${bad.replaceAll('.', '\\.')}:6: finetune\\.rank: `));
  });
});
