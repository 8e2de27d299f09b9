import { ts } from 'ts-morph';
import { z } from 'zod';
import { isFunctionNode, lineOf, walk } from './lib/ast.js';
import { testCall } from './lib/tests.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

const ASSERTING = /^(expect|assert|should|verify|check|throws|rejects)/i;

function calleeNames(e: ts.Expression): string[] {
  if (ts.isIdentifier(e)) return [e.text];
  if (ts.isPropertyAccessExpression(e)) return [e.name.text, ...calleeNames(e.expression)];
  if (ts.isCallExpression(e)) return calleeNames(e.expression);
  return [];
}

/** Names of the calls made in a subtree. */
function callsIn(node: ts.Node): string[] {
  const names: string[] = [];
  walk(node, (n) => {
    if (ts.isCallExpression(n)) names.push(...calleeNames(n.expression));
  });
  return names;
}

/**
 * Named functions of the test files (helpers included) that assert, directly or through other asserting
 * helpers. Resolved by name across files, which is enough for helpers imported from a test folder.
 */
function assertingHelpers(files: readonly ts.SourceFile[]): Set<string> {
  const bodies = new Map<string, string[]>();
  const add = (name: string, body: ts.Node): void => {
    bodies.set(name, [...(bodies.get(name) ?? []), ...callsIn(body)]);
  };
  for (const sf of files) {
    walk(sf, (n) => {
      if (ts.isFunctionDeclaration(n) && n.name && n.body) add(n.name.text, n.body);
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && isFunctionNode(n.initializer)) add(n.name.text, n.initializer);
    });
  }
  const asserting = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, calls] of bodies) {
      if (!asserting.has(name) && calls.some((c) => ASSERTING.test(c) || asserting.has(c))) {
        asserting.add(name);
        changed = true;
      }
    }
  }
  return asserting;
}

/** Every test asserts something (expect/assert, or a helper of the file that does). */
export const testAssertions = defineCheck({
  id: 'CB-042',
  name: 'test-assertions',
  description: 'every test case contains an assertion',
  thresholds: z.object({}),
  run(ctx) {
    const findings: Finding[] = [];
    let tests = 0;
    const helpers = assertingHelpers(ctx.testFiles.map((f) => ctx.sourceFile(f)));
    for (const file of ctx.testFiles) {
      const sf = ctx.sourceFile(file);
      walk(sf, (n) => {
        if (!ts.isCallExpression(n) || ts.isCallExpression(n.parent)) return;
        const c = testCall(n);
        if (!c || (c.runner !== 'it' && c.runner !== 'test') || c.modifiers.some((m) => m === 'skip' || m === 'todo')) return;
        const body = [...n.arguments].reverse().find(isFunctionNode);
        if (!body) return;
        tests++;
        if (!callsIn(body).some((x) => ASSERTING.test(x) || helpers.has(x))) {
          const name = n.arguments[0] && ts.isStringLiteralLike(n.arguments[0]) ? n.arguments[0].text : '?';
          findings.push({ level: 'fail', file, line: lineOf(sf, n.getStart(sf)), message: `test '${name.slice(0, 60)}' has no assertion` });
        }
      });
    }
    return outcome(`${plural(tests, 'test case')}, ${findings.length} without an assertion`, findings);
  },
});
