import { afterAll, describe, expect, it } from 'vitest';
import { exitCode } from '../../../gates/lib/runner.js';
import { runCompliance } from '../../../gates/registry.js';
import { plant, removePlanted, type Changes } from './fixture.js';

afterAll(removePlanted);

interface Variant {
  id: string;
  what: string;
  changes: Changes;
  /** A fragment the failing finding's message must contain. */
  expect: string;
}

const variants: Variant[] = [
  { id: 'CB-019', what: 'a quotient compared exactly', changes: { 'src/approx.ts': 'export const isThird = (a: number, b: number): boolean => a / b === 1 / 3;\n' }, expect: 'computed floating-point arithmetic exactly' },
  { id: 'CB-019', what: 'a float literal compared exactly', changes: { 'src/approx.ts': 'export const isHalf = (a: number): boolean => a == 0.5;\n' }, expect: 'a float literal exactly' },
  { id: 'CB-033', what: 'eval', changes: { 'src/approx.ts': 'export const run = (s: string): unknown => eval(s);\n' }, expect: 'eval() builds code' },
  { id: 'CB-033', what: 'new Function', changes: { 'src/approx.ts': "export const make = (body: string): unknown => new Function('x', body);\n" }, expect: 'Function() builds code' },
  { id: 'CB-034', what: 'execSync in library code', changes: { 'src/approx.ts': "import { execSync } from 'node:child_process';\nexport const sh = (c: string): string => execSync(c).toString();\n" }, expect: 'imports execSync' },
  { id: 'CB-035', what: 'require()', changes: { 'src/approx.ts': "export const fs: unknown = require('node:fs');\n" }, expect: 'require() call' },
  { id: 'CB-035', what: '__dirname', changes: { 'src/approx.ts': 'export const here = (): string => __dirname;\n' }, expect: '__dirname' },
  { id: 'CB-036', what: 'a default export', changes: { 'src/approx.ts': 'export default function approx(a: number): number {\n  return a;\n}\n' }, expect: 'export default' },
  { id: 'CB-037', what: 'an import against the layer rule', changes: { 'src/approx.ts': "import { meanOp } from './ops/mean.js';\nexport const m = (xs: number[]): number => meanOp(xs);\n" }, expect: 'imports src/ops/mean.ts' },
  { id: 'CB-038', what: 'an import cycle', changes: { 'src/a.ts': "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n", 'src/b.ts': "import { a } from './a.js';\nexport const b = (): number => (a.length > 9 ? 1 : 0);\n" }, expect: 'import cycle: src/a.ts → src/b.ts' },
  { id: 'CB-039', what: '@ts-ignore', changes: { 'src/approx.ts': '// @ts-ignore\nexport const x: number = "1";\n' }, expect: '@ts-ignore silences the compiler' },
  { id: 'CB-039', what: 'an eslint-disable without a reason', changes: { 'src/approx.ts': '// eslint-disable-next-line prefer-const\nexport let x = 1;\n' }, expect: "without a '-- reason'" },
  { id: 'CB-041', what: 'it.only', changes: { 'test/only.spec.ts': "import { expect, it } from 'vitest';\nit.only('focused', () => {\n  expect(1).toBe(1);\n});\n" }, expect: 'it.only focuses the suite' },
  { id: 'CB-042', what: 'a test without an assertion', changes: { 'test/empty.spec.ts': "import { it } from 'vitest';\nimport { mean } from '../src/stats.js';\nit('computes', () => {\n  mean([1, 2]);\n});\n" }, expect: "test 'computes' has no assertion" },
  { id: 'CB-043', what: 'most modules untested', changes: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`src/u${i}.ts`, `export const u${i} = ${i};\n`])), expect: 'no test imports or runs this module' },
];

describe('pmat hygiene checks: each fails on its planted fault', () => {
  for (const v of variants) {
    it(`${v.id} fails on ${v.what} (exit 1)`, async () => {
      const r = await runCompliance(plant(v.changes), { only: [v.id], cache: false });
      const c = r.checks[0];
      expect(c?.status, c?.message).toBe('fail');
      expect(c?.findings.some((f) => f.level === 'fail' && `${f.file ?? ''}: ${f.message}`.includes(v.expect)), JSON.stringify(c?.findings)).toBe(true);
      expect(exitCode(r, false)).toBe(1);
    });
  }

  it('the clean project passes them all (exit 0 with --strict)', async () => {
    const ids = [...new Set(variants.map((v) => v.id))];
    const r = await runCompliance(plant(), { only: ids, cache: false, strict: true });
    expect(r.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id} ${c.status}: ${c.message}`)).toEqual([]);
    expect(r.checks).toHaveLength(ids.length);
    expect(exitCode(r, true)).toBe(0);
  });

  it('CB-019 leaves exact comparisons of integer arithmetic, integers and Math.fround alone', async () => {
    const r = await runCompliance(
      plant({ 'src/approx.ts': 'export const f = (a: number, b: number, n: number): boolean => a * b === n || n % 2 === 0 || Math.fround(a) === a || a === 3 || `${a}` + 1 === "x";\n' }),
      { only: ['CB-019'], cache: false },
    );
    expect(r.checks[0]?.status, r.checks[0]?.message).toBe('pass');
  });

  it('CB-043 follows a worker loaded by URL from a tested module, and only a tested one', async () => {
    const worker = 'export const ready = true;\n';
    const spawner = "import { Worker } from 'node:worker_threads';\nexport const start = (): Worker => new Worker(new URL('./worker.js', import.meta.url));\n";
    const cfg = JSON.stringify({ paths: { source: ['src/**'] }, checks: { 'CB-043': { thresholds: { failAbovePercent: 100 } } } });
    const untested = await runCompliance(plant({ 'src/worker.ts': worker, 'src/spawn.ts': spawner, 'pmat.config.json': cfg }), { only: ['CB-043'], cache: false });
    expect(untested.checks[0]?.findings.map((f) => f.file).sort()).toEqual(['src/spawn.ts', 'src/worker.ts']);
    const testSpawner = "import { expect, it } from 'vitest';\nimport { start } from '../src/spawn.js';\nit('has a start', () => {\n  expect(typeof start).toBe('function');\n});\n";
    const tested = await runCompliance(plant({ 'src/worker.ts': worker, 'src/spawn.ts': spawner, 'test/spawn.spec.ts': testSpawner, 'pmat.config.json': cfg }), { only: ['CB-043'], cache: false });
    expect(tested.checks[0]?.findings).toEqual([]);
  });

  it('CB-042 accepts assertions made in a helper imported from another test file', async () => {
    const r = await runCompliance(
      plant({
        'test/helpers.ts': "import { expect } from 'vitest';\nexport function sameMean(a: number, b: number): void {\n  expect(a).toBeCloseTo(b, 9);\n}\n",
        'test/more.spec.ts': "import { it } from 'vitest';\nimport { mean } from '../src/stats.js';\nimport { sameMean } from './helpers.js';\nit('uses the helper', () => {\n  sameMean(mean([1, 3]), 2);\n});\n",
      }),
      { only: ['CB-042'], cache: false },
    );
    expect(r.checks[0]?.status, r.checks[0]?.message).toBe('pass');
  });

  it('CB-041 warns on an unconditional it.skip but not on one under an if (tool missing)', async () => {
    const skipped = "import { expect, it } from 'vitest';\nit.skip('later', () => {\n  expect(1).toBe(1);\n});\n";
    const guarded = "import { expect, it } from 'vitest';\nconst bin = process.env['TOOL'];\nif (bin === undefined) it.skip('no tool', () => undefined);\nelse it('runs the tool', () => {\n  expect(bin).toBeTypeOf('string');\n});\n";
    const [r1, r2] = await Promise.all([skipped, guarded].map((t) => runCompliance(plant({ 'test/skip.spec.ts': t }), { only: ['CB-041'], cache: false })));
    expect(r1?.checks[0]?.status).toBe('warn');
    expect(r1?.checks[0]?.findings[0]?.message).toBe('it.skip');
    expect(r2?.checks[0]?.status).toBe('pass');
  });
});
