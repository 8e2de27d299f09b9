import { ts } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import { cycles } from '../../../gates/CB-038-import-cycles.js';
import { badSuppression } from '../../../gates/CB-039-suppression-comments.js';
import { unpinnedReason } from '../../../gates/CB-023-pinned-versions.js';
import { lowestMajor } from '../../../gates/CB-029-engines.js';
import { parseProofStatus } from '../../../gates/CB-007-pv-level.js';
import { grade, tdgScore } from '../../../gates/CB-032-tdg-grade.js';
import { comments, functionMetrics } from '../../../gates/lib/ast.js';
import { findDuplication, normalisedTokens } from '../../../gates/lib/duplication.js';
import { matchesGlob } from '../../../gates/lib/glob.js';

const parse = (code: string): ts.SourceFile => ts.createSourceFile('x.ts', code, ts.ScriptTarget.Latest, true);
const metrics = (code: string) => functionMetrics(parse(code));

// Examples from G. Ann Campbell, "Cognitive Complexity — a new way of measuring understandability",
// SonarSource white paper (2017, rev. 2021), transcribed from Java; the paper states both metrics.
const SUM_OF_PRIMES = `function sumOfPrimes(max: number): number {
  let total = 0;
  OUT: for (let i = 1; i <= max; ++i) {
    for (let j = 2; j < i; ++j) {
      if (i % j === 0) {
        continue OUT;
      }
    }
    total += i;
  }
  return total;
}`;
const GET_WORDS = `function getWords(n: number): string {
  switch (n) {
    case 1: return 'one';
    case 2: return 'a couple';
    case 3: return 'a few';
    default: return 'lots';
  }
}`;
const MY_METHOD = `function myMethod(): void {
  try {
    if (condition1) {
      for (let i = 0; i < 10; i++) {
        while (condition2) { step(); }
      }
    }
  } catch (e) {
    if (condition2) { step(); }
  }
}`;

describe('cyclomatic and cognitive complexity', () => {
  it('sumOfPrimes: cyclomatic 4, cognitive 7 (Campbell 2017)', () => {
    expect(metrics(SUM_OF_PRIMES)[0]).toMatchObject({ name: 'sumOfPrimes', cyclomatic: 4, cognitive: 7, nesting: 3 });
  });

  it('getWords: cyclomatic 4, cognitive 1 (Campbell 2017)', () => {
    expect(metrics(GET_WORDS)[0]).toMatchObject({ cyclomatic: 4, cognitive: 1 });
  });

  it('try/if/for/while/catch example: cognitive 9 (Campbell 2017)', () => {
    expect(metrics(MY_METHOD)[0]?.cognitive).toBe(9);
  });

  it('one increment per run of like logical operators: a && b && c || d || e && f is 3 (+1 for the if)', () => {
    expect(metrics('function f() { if (a && b && c || d || e && f) g(); }')[0]).toMatchObject({ cognitive: 4, cyclomatic: 7 });
    expect(metrics('function f() { if (a && !(b && c)) g(); }')[0]?.cognitive).toBe(3);
  });

  it('else-if and else add one each without nesting', () => {
    const m = metrics('function f(x: number) { if (x > 0) { if (x > 1) a(); } else if (x < 0) b(); else c(); }')[0];
    // if +1, nested if +2, else if +1, else +1
    expect(m).toMatchObject({ cognitive: 5, cyclomatic: 4, nesting: 2 });
  });

  it('a nested function is measured on its own, not added to its parent', () => {
    const [outer, inner] = metrics('function outer() { const r = () => { if (a) b(); }; return r; }');
    expect(outer).toMatchObject({ name: 'outer', cyclomatic: 1, cognitive: 0 });
    expect(inner).toMatchObject({ name: 'r', cyclomatic: 2, cognitive: 1 });
  });

  it('nesting depth as ESLint max-depth counts it (docs example: 5 deep)', () => {
    const code = 'function foo() { for (;;) { while (true) { if (true) { if (true) { if (true) {} } } } } }';
    expect(metrics(code)[0]?.nesting).toBe(5);
    expect(metrics('function f(x: number) { if (x) {} else if (x > 1) {} else if (x > 2) { if (x) {} } }')[0]?.nesting).toBe(2);
  });

  it('function length runs from the signature to the closing brace and names methods by class', () => {
    const [m] = metrics('/** doc */\nclass A {\n  run(): void {\n    a();\n    b();\n  }\n}\n');
    expect(m).toMatchObject({ name: 'A.run', line: 3, lines: 4 });
  });
});

describe('comments', () => {
  it('finds comments everywhere, including before a closing brace, and never inside strings', () => {
    const sf = parse("const s = '// TODO not a comment';\nfunction f() {\n  g(); // trailing\n  /* last */\n}\n// end\n");
    expect(comments(sf).map((c) => [c.line, c.text])).toEqual([
      [3, '// trailing'],
      [4, '/* last */'],
      [6, '// end'],
    ]);
  });
});

describe('duplication', () => {
  const body = (fn: string, acc: string, item: string): string =>
    `export function ${fn}(rows: number[][]): number {\n  let ${acc} = 0;\n  for (const ${item} of rows) {\n    for (let i = 0; i < ${item}.length; i++) {\n      const v = ${item}[i] ?? 0;\n      if (v > 0) ${acc} += v * 2;\n      else ${acc} -= Math.abs(v) / 3;\n    }\n  }\n  return ${acc} > 100 ? 100 : ${acc};\n}\n`;

  it('finds a copy whose local names were renamed', () => {
    const a = normalisedTokens(parse(body('f', 'sum', 'row')));
    const b = normalisedTokens(parse(`const pad = 1;\n${body('g', 'total', 'line')}`));
    const d = findDuplication(new Map([['a.ts', a], ['b.ts', b]]), 40);
    expect(d.clones.map((c) => [c.file, c.otherFile])).toEqual([
      ['a.ts', 'b.ts'],
      ['b.ts', 'a.ts'],
    ]);
    expect(d.duplicatedTokens).toBe(2 * a.length);
  });

  it('keeps calls to different methods apart and ignores literal data tables', () => {
    const calls = (m: string) => `export function w${m}(v: DataView, o: number, x: number): number {\n  v.${m}(o, x, true);\n  v.${m}(o + 1, x, true);\n  v.${m}(o + 2, x, true);\n  v.${m}(o + 3, x, true);\n  return o + 4;\n}\n`;
    const table = (n: number) => `export const T${n} = { A: { id: 0, size: 1 }, B: { id: 1, size: 2 }, C: { id: 2, size: 4 }, D: { id: 3, size: 8 }, E: { id: 4, size: 16 } };\n`;
    const files = new Map([
      ['a.ts', normalisedTokens(parse(calls('setUint16') + table(1)))],
      ['b.ts', normalisedTokens(parse(calls('setInt16') + table(2)))],
    ]);
    expect(findDuplication(files, 30).duplicatedTokens).toBe(0);
  });
});

describe('helpers', () => {
  it('glob matching', () => {
    expect(matchesGlob('src/cli/apr.ts', 'src/cli/**')).toBe(true);
    expect(matchesGlob('src/cli/apr.ts', 'src/cli')).toBe(true);
    expect(matchesGlob('src/client.ts', 'src/cli')).toBe(false);
    expect(matchesGlob('src/a/b/c.test.ts', '**/*.test.ts')).toBe(true);
    expect(matchesGlob('c.test.ts', '**/*.test.ts')).toBe(true);
    expect(matchesGlob('src/a.ts', 'src/*.ts')).toBe(true);
    expect(matchesGlob('src/ops/a.ts', 'src/*.ts')).toBe(false);
    expect(matchesGlob('src/ops/a.ts', 'src/{ops,kernels}/**')).toBe(true);
  });

  it('import cycles are the strongly connected components', () => {
    const edges = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']], ['e', ['e']]]);
    expect(cycles(['a', 'b', 'c', 'd', 'e'], edges)).toEqual([['a', 'b', 'c']]);
  });

  it('version pinning', () => {
    expect(unpinnedReason('1.2.3', true)).toBeUndefined();
    expect(unpinnedReason('~1.2.3', true)).toBeUndefined();
    expect(unpinnedReason('~1.2', true)).toBeUndefined();
    expect(unpinnedReason('~1.2.3', false)?.level).toBe('fail');
    expect(unpinnedReason('^1.2.3', true)?.why).toContain('^ range');
    expect(unpinnedReason('>=1.0.0', true)?.why).toBe('version range');
    expect(unpinnedReason('1.x', true)?.why).toBe('version range');
    expect(unpinnedReason('*', true)?.why).toContain('admits any version');
    expect(unpinnedReason('npm:other@1.0.0', true)).toBeUndefined();
    expect(unpinnedReason('github:user/repo', true)?.level).toBe('warn');
  });

  it('engines ranges', () => {
    expect(lowestMajor('>=20')).toBe(20);
    expect(lowestMajor('^18.17.0 || >=20')).toBe(18);
    expect(lowestMajor('20.x')).toBe(20);
    expect(lowestMajor('>=20 <23')).toBe(20);
    expect(lowestMajor('lts')).toBeUndefined();
  });

  it('suppression comments', () => {
    expect(badSuppression('// @ts-ignore')?.level).toBe('fail');
    expect(badSuppression('// @ts-expect-error')?.level).toBe('warn');
    expect(badSuppression('// @ts-expect-error -- the d.ts is wrong')).toBeUndefined();
    expect(badSuppression('/* eslint-disable */')?.why).toBe('eslint-disable of every rule');
    expect(badSuppression('// eslint-disable-next-line no-console')?.why).toContain("without a '-- reason'");
    expect(badSuppression('// eslint-disable-next-line no-console -- CLI output')).toBeUndefined();
    expect(badSuppression('// a comment about eslint-disable')).toBeUndefined();
  });

  it('pv proof-status JSON in list or map form', () => {
    expect(parseProofStatus('{"contracts":[{"id":"a","level":"L2"},{"contract":"b","level":3}]}')).toEqual([
      { id: 'a', level: 2 },
      { id: 'b', level: 3 },
    ]);
    expect(parseProofStatus('{"contracts":{"a":{"level":"L0"}}}')).toEqual([{ id: 'a', level: 0 }]);
    expect(parseProofStatus('not json')).toBeUndefined();
  });

  it('TDG score and grade', () => {
    const limits = { fileLines: 400, functionLines: 60, cyclomatic: 15, cognitive: 20, nesting: 4 };
    const fn = { name: 'f', line: 1, lines: 10, cyclomatic: 2, cognitive: 1, nesting: 1 };
    expect(tdgScore({ lines: 100, functions: [fn], duplicatedShare: 0, smells: 0 }, limits)).toBe(100);
    // a 700-line file (-20), one function over every limit by more than 1.5x (-40), 20% duplicated (-10), 2 smells (-6)
    const bad = { ...fn, lines: 100, cyclomatic: 30, cognitive: 40, nesting: 7 };
    expect(tdgScore({ lines: 700, functions: [bad], duplicatedShare: 0.2, smells: 2 }, limits)).toBe(24);
    expect([95, 85, 75, 65, 10].map(grade)).toEqual(['A', 'B', 'C', 'D', 'F']);
  });
});
