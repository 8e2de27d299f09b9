import { ts } from 'ts-morph';

const RUNNERS = new Set(['it', 'test', 'describe', 'suite', 'bench']);

/** `it.only(...)` → {runner: 'it', modifiers: ['only']}; `it(...)` → no modifiers; else undefined. */
export function testCall(n: ts.CallExpression): { runner: string; modifiers: string[] } | undefined {
  const mods: string[] = [];
  let e: ts.Expression = n.expression;
  while (ts.isPropertyAccessExpression(e) || ts.isCallExpression(e)) {
    if (ts.isPropertyAccessExpression(e)) {
      mods.unshift(e.name.text);
      e = e.expression;
    } else e = e.expression; // it.each(table)(...)
  }
  if (!ts.isIdentifier(e)) return undefined;
  if (RUNNERS.has(e.text)) return { runner: e.text, modifiers: mods };
  if (/^x(it|test|describe)$/.test(e.text)) return { runner: e.text.slice(1), modifiers: ['skip', ...mods] };
  if (/^f(it|describe)$/.test(e.text)) return { runner: e.text.slice(1), modifiers: ['only', ...mods] };
  return undefined;
}
