import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

// apr eval --data ... --samples ... --rerank logprob: a samples file without mean_logprob is bad input (exit 3,
// one line naming file, line and field), never a silent pick of the first sample. Why 3 and not 2: the flags
// are valid (the same command line works on a file that carries log-probabilities); the input file lacks
// what the command needs, as a model without a tokenizer does.

const CODE = resolve(process.cwd(), 'test/fixtures/code-problems');
let tmp: ReturnType<typeof tempDir>;
let problems: string;

beforeAll(() => {
  tmp = tempDir('apr-eval-code-cli-');
  problems = join(tmp.dir, 'problems.jsonl');
  writeFileSync(problems, readFileSync(join(CODE, 'problems.jsonl'), 'utf8').split('\n').slice(0, 2).join('\n'));
});
afterAll(() => tmp.cleanup());

function samples(name: string, rows: readonly Record<string, unknown>[]): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n'));
  return path;
}

const canon = (line: number): Record<string, unknown> => {
  const p = JSON.parse(readFileSync(join(CODE, 'problems.jsonl'), 'utf8').split('\n')[line] ?? '{}') as Record<string, string>;
  return { task_id: p['task_id'], completion: p['canonical_solution'] };
};

describe('apr eval --rerank logprob (issue 18)', () => {
  it('samples without mean_logprob: exit 3, one line naming the file, line and field; nothing runs', () => {
    const file = samples('no-lp.jsonl', [{ task_id: 'AprCode/0', completion: '    return "x"\n' }, canon(0), canon(1)]);
    const r = runCli('apr', ['eval', '--data', problems, '--samples', file, '--rerank', 'logprob', '--json']);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`apr: error: ${file}: line 1: mean_logprob: missing: --rerank logprob ranks the samples by their mean log-probability\n`);
  });

  it('with mean_logprob on every sample it ranks by them (the best of AprCode/0 is the canonical second sample)', () => {
    const file = samples('lp.jsonl', [{ task_id: 'AprCode/0', completion: '    return "x"\n', mean_logprob: -2 }, { ...canon(0), mean_logprob: -0.5 }, { ...canon(1), mean_logprob: -1 }]);
    const r = runCli('apr', ['eval', '--data', problems, '--samples', file, '--rerank', 'logprob', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { results: { reranked_pass_at_1: number; pass_at_1: number }; problems: { reranked: unknown }[] };
    expect(report.problems.map((p) => p.reranked)).toEqual([{ index: 1, passed: true }, { index: 0, passed: true }]);
    expect(report.results).toMatchObject({ pass_at_1: 0.75, reranked_pass_at_1: 1 });
  });
});
