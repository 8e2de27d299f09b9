import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SandboxStatus } from '../../src/eval/sandbox/index.js';
import { evaluateCode, type CodeEvalReport, type Reranker } from '../../src/ops/eval-code.js';
import { exactPassAtK, scriptedExecutor, scriptedSample, stubProblem, type Scripted } from '../unit/eval-code-helpers.js';

// eval-code-v1 obligations, checked through the contracted op (evaluateCode) on random outcome tables.
// The executor is scripted (no processes); every expected value is recomputed here from the table itself.

interface Cell {
  status: SandboxStatus;
  lp: number | null;
  visible: { passed: boolean; output: string }[] | null;
}

const cell: fc.Arbitrary<Cell> = fc.record({
  status: fc.constantFrom<SandboxStatus>('passed', 'failed', 'timeout', 'error'),
  lp: fc.option(fc.double({ min: -5, max: 0, noNaN: true }), { nil: null }),
  visible: fc.option(fc.array(fc.record({ passed: fc.boolean(), output: fc.constantFrom('1', '2', '3') }), { minLength: 1, maxLength: 2 }), { nil: null }),
});

// logprob reranking of samples made elsewhere needs every sample's mean_logprob (a missing one is an error)
const scenario = fc
  .record({
    table: fc.array(fc.array(cell, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
    ks: fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }),
    rerank: fc.constantFrom<Reranker>('none', 'logprob', 'majority', 'execution'),
  })
  .map((s) => (s.rerank === 'logprob' ? { ...s, table: s.table.map((row) => row.map((c) => ({ ...c, lp: c.lp ?? -5 }))) } : s));

type Scenario = { table: Cell[][]; ks: number[]; rerank: Reranker };

async function run(s: Scenario): Promise<CodeEvalReport> {
  const outcomes = new Map<string, Scripted>();
  const samples = s.table.flatMap((row, p) =>
    row.map((c, i) => {
      outcomes.set(`${p}.${i}`, { status: c.status, visible: c.visible });
      return scriptedSample(`P${p}`, `${p}.${i}`, c.lp);
    }),
  );
  return evaluateCode({ problems: s.table.map((_r, p) => stubProblem(`P${p}`)), samples, ks: s.ks, rerank: s.rerank, executor: scriptedExecutor(outcomes), workers: 4 });
}

const passes = (row: readonly Cell[]): number => row.filter((c) => c.status === 'passed').length;
const inUnit = (x: number): boolean => x >= 0 && x <= 1;
const RUNS = { numRuns: 150 };

describe('code evaluation scoring (eval-code-v1)', () => {
  it('reports every pass@k in [0, 1] [ob:codeeval-range]', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const r = await run(s);
      const all = [r.results.pass_at_1, ...Object.values(r.results.pass_at_k), ...r.problems.flatMap((p) => Object.values(p.pass_at_k))];
      return all.every(inUnit) && (r.results.reranked_pass_at_1 === null || inUnit(r.results.reranked_pass_at_1));
    }), RUNS);
  });

  it('pass@1 is the mean of c/n within 1e-12 [ob:codeeval-pass1-mean]', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const r = await run(s);
      const want = s.table.reduce((a, row) => a + passes(row) / row.length, 0) / s.table.length;
      return Math.abs(r.results.pass_at_1 - want) <= 1e-12;
    }), RUNS);
  });

  it('pass@k matches the BigInt binomial definition within 1e-12 [ob:codeeval-passk-exact]', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const r = await run(s);
      for (const k of s.ks) {
        const exact = s.table.map((row) => (k <= row.length ? exactPassAtK(row.length, passes(row), k) : null));
        for (const [p, e] of exact.entries()) {
          const got = r.problems[p]?.pass_at_k[String(k)];
          if (e === null ? got !== undefined : got === undefined || Math.abs(got - e) > 1e-12) return false;
        }
        const complete = exact.every((e) => e !== null);
        const mean = exact.reduce<number>((a, e) => a + (e ?? 0), 0) / s.table.length;
        const got = r.results.pass_at_k[String(k)];
        if (complete ? got === undefined || Math.abs(got - mean) > 1e-12 : got !== undefined) return false;
      }
      return true;
    }), RUNS);
  });

  it('counts samples, passes and problems from the verdicts [ob:codeeval-counts]', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const r = await run(s);
      const nc = r.problems.map((p) => [p.n, p.c]);
      expect(nc).toEqual(s.table.map((row) => [row.length, passes(row)]));
      expect(r.results.total).toBe(s.table.length);
      expect(r.results.passed).toBe(s.table.filter((row) => passes(row) > 0).length);
      expect(r.problems.map((p) => p.samples.map((x) => x.status))).toEqual(s.table.map((row) => row.map((c) => c.status)));
    }), RUNS);
  });

  it('rerankers pick within the samples, as specified [ob:codeeval-rerank-bounds]', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const r = await run(s);
      const rr = r.results.reranked_pass_at_1;
      if (s.rerank === 'none') return rr === null;
      const P = s.table.length;
      const allPass = s.table.filter((row) => passes(row) === row.length).length / P;
      if (rr === null || rr < allPass - 1e-12 || rr > r.results.passed / P + 1e-12) return false;
      return s.table.every((row, p) => {
        const idx = r.problems[p]?.reranked?.index ?? -1;
        if (idx < 0 || idx >= row.length) return false;
        if (s.rerank === 'logprob') {
          const lps = row.map((c) => c.lp ?? -Infinity);
          return lps.indexOf(Math.max(...lps)) === idx;
        }
        if (s.rerank === 'execution') {
          const first = row.findIndex((c) => c.visible !== null && c.visible.every((v) => v.passed));
          return idx === (first < 0 ? 0 : first);
        }
        return true;
      });
    }), RUNS);
  });

  it('mean pass@k is non-decreasing in k [ob:codeeval-monotone-k]', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const r = await run(s);
      const vals = Object.entries(r.results.pass_at_k).sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => v);
      return vals.every((v, i) => i === 0 || v >= (vals[i - 1] ?? 0) - 1e-12);
    }), RUNS);
  });

  it('majority vote picks the first member of the largest group of equal visible outputs', async () => {
    const v = (output: string): Cell['visible'] => [{ passed: false, output }];
    const table: Cell[][] = [[
      { status: 'failed', lp: null, visible: v('1') },
      { status: 'passed', lp: null, visible: v('2') },
      { status: 'failed', lp: null, visible: null },
      { status: 'passed', lp: null, visible: v('2') },
      { status: 'failed', lp: null, visible: v('3') },
    ]];
    const r = await run({ table, ks: [1], rerank: 'majority' });
    expect(r.problems[0]?.reranked).toEqual({ index: 1, passed: true });
  });
});
