import { afterAll, describe, expect, it } from 'vitest';
import { exitCode } from '../../../gates/lib/runner.js';
import { runCompliance } from '../../../gates/registry.js';
import { plant, removePlanted, type Changes } from './fixture.js';

afterAll(removePlanted);

const lines = (n: number, line: (i: number) => string): string => Array.from({ length: n }, (_, i) => line(i)).join('\n');

/** A function whose body nests `depth` ifs. */
const nested = (depth: number): string =>
  `export function deep(a: number): number {\n${lines(depth, (i) => `${'  '.repeat(i + 1)}if (a > ${i}) {`)}\n${'  '.repeat(depth + 1)}return a;\n${lines(depth, (i) => `${'  '.repeat(depth - i)}}`)}\n  return 0;\n}\n`;

/** Cognitive complexity 4 × (1 + 2 + 3 + 4) = 40: four triple-nested loops around an if. */
const tangled = `export function tangled(m: number[][][]): number {
  let n = 0;
${lines(4, () => `  for (const a of m) {\n    for (const b of a) {\n      for (const c of b) {\n        if (c > 0) n++;\n      }\n    }\n  }`)}
  return n;
}
`;

const clone = (name: string, v: string): string => `export function ${name}(rows: number[][], scale: number): number[] {
  const ${v}: number[] = [];
  for (const row of rows) {
    let acc = 0;
    for (let i = 0; i < row.length; i++) {
      const x = row[i] ?? 0;
      if (x > scale) acc += x * scale;
      else if (x < -scale) acc -= x / scale;
      else acc += Math.abs(x);
    }
    ${v}.push(acc > 100 ? 100 : acc < -100 ? -100 : acc);
  }
  return ${v}.map((y) => (y === 0 ? 0 : y / ${v}.length)).filter((y) => Number.isFinite(y));
}
`;

const STATS = `/** Arithmetic mean. */
export function mean(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}
`;

interface Variant {
  id: string;
  what: string;
  changes: Changes;
  /** A fragment the failing finding's message must contain. */
  expect: string;
}

const variants: Variant[] = [
  { id: 'CB-005', what: 'a v8 ignore hint', changes: { 'src/approx.ts': `/* v8 ignore next */\nexport const approxEqual = (a: number, b: number, t: number): boolean => Math.abs(a - b) <= t;\n` }, expect: 'coverage ignore hint' },
  { id: 'CB-005', what: 'a coverage exclude hiding source', changes: { 'vitest.config.ts': `import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { coverage: { exclude: ['src/ops/**'] } } });\n` }, expect: "exclude 'src/ops/**' hides 1 library file" },
  { id: 'CB-006', what: 'an unbound entry in binding.json', changes: { 'contracts/binding.json': JSON.stringify({ contracts: [{ contract: 'stats-mean-v1', equation: 'mean', file: 'src/ops/mean.ts', symbol: 'meanOp' }], unbound: ["src/ops/median.ts: exported function 'medianOp' has no contract"] }) }, expect: 'unbound: src/ops/median.ts' },
  { id: 'CB-006', what: 'an exported op missing from the registry', changes: { 'src/ops/median.ts': `export function medianOp(xs: readonly number[]): number {\n  return xs[0] ?? 0;\n}\n` }, expect: "exported 'medianOp' is not bound" },
  { id: 'CB-008', what: 'a contract YAML nothing binds', changes: { 'contracts/orphan-v1.yaml': 'metadata: { id: orphan-v1, version: 1 }\nequations:\n  e: { formula: "x" }\n' }, expect: "contract 'orphan-v1' is bound by no code" },
  { id: 'CB-008', what: 'a YAML equation nothing binds', changes: { 'contracts/stats-mean-v1.yaml': 'metadata: { id: stats-mean-v1, version: 1 }\nequations:\n  mean: { formula: "x" }\n  median: { formula: "y" }\n' }, expect: "equation 'median' is bound by no code" },
  { id: 'CB-009', what: 'a 601-line file', changes: { 'src/long.ts': `${lines(601, (i) => `export const c${i} = ${i};`)}\n` }, expect: '601 lines > 600' },
  { id: 'CB-010', what: 'a 103-line function', changes: { 'src/long.ts': `export function long(a: number): number {\n${lines(101, () => '  a += 1;')}\n  return a;\n}\n` }, expect: 'long: lines 104 > 100' },
  { id: 'CB-011', what: 'a function with 26 branches', changes: { 'src/branchy.ts': `export function branchy(a: number): number {\n${lines(26, (i) => `  if (a === ${i}) return ${i};`)}\n  return -1;\n}\n` }, expect: 'branchy: cyclomatic 27 > 25' },
  { id: 'CB-012', what: 'four triple-nested loops', changes: { 'src/tangled.ts': tangled }, expect: 'tangled: cognitive 40 > 30' },
  { id: 'CB-013', what: 'seven nested ifs', changes: { 'src/deep.ts': nested(7) }, expect: 'deep: nesting depth 7 > 6' },
  { id: 'CB-014', what: 'a renamed copy of a function', changes: { 'src/a.ts': clone('scoreA', 'out'), 'src/b.ts': clone('scoreB', 'result') }, expect: 'duplicate src/' },
  { id: 'CB-015', what: 'eleven exports nobody imports', changes: { 'src/extra.ts': `${lines(12, (i) => `export const x${i} = ${i};`)}\n`, 'src/index.ts': "export { approxEqual } from './approx.js';\nexport { x0 } from './extra.js';\nexport { mean, variance } from './stats.js';\n" }, expect: "export 'x11' is never imported" },
  { id: 'CB-016', what: 'an explicit any', changes: { 'src/approx.ts': 'export const id = (x: any): number => x as number;\n' }, expect: "'any'" },
  { id: 'CB-017', what: 'a non-null assertion', changes: { 'src/approx.ts': 'export const first = (xs: number[]): number => xs[0]!;\n' }, expect: "non-null assertion 'xs[0]!'" },
  { id: 'CB-018', what: 'a TODO comment', changes: { 'src/stats.ts': `// TODO: handle NaN inputs\n${STATS}` }, expect: 'TODO comment' },
  { id: 'CB-020', what: 'an empty catch', changes: { 'src/approx.ts': 'export function parse(s: string): unknown {\n  try {\n    return JSON.parse(s);\n  } catch {}\n  return undefined;\n}\n' }, expect: 'empty catch block' },
  { id: 'CB-021', what: 'console.log in library code', changes: { 'src/stats.ts': STATS.replace('let sum = 0;', "let sum = 0;\n  console.log('mean of', xs.length);") }, expect: 'console.log in library code' },
];

describe('pmat code checks: each fails on its planted fault', () => {
  for (const v of variants) {
    it(`${v.id} fails on ${v.what} (exit 1)`, async () => {
      const r = await runCompliance(plant(v.changes), { only: [v.id], cache: false });
      const c = r.checks[0];
      expect(c?.id).toBe(v.id);
      expect(c?.status, c?.message).toBe('fail');
      expect(c?.findings.some((f) => f.level === 'fail' && `${f.file ?? ''}: ${f.message}`.includes(v.expect)), JSON.stringify(c?.findings)).toBe(true);
      expect(exitCode(r, false)).toBe(1);
    });
  }
});

describe('pmat code checks: the clean project passes them', () => {
  it('every check above passes on the clean project (exit 0 with --strict)', async () => {
    const ids = [...new Set(variants.map((v) => v.id))];
    const r = await runCompliance(plant(), { only: ids, cache: false, strict: true });
    const notPassing = r.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id} ${c.status}: ${c.message}`);
    expect(notPassing).toEqual([]);
    expect(r.checks).toHaveLength(ids.length);
    expect(exitCode(r, true)).toBe(0);
  });
});
