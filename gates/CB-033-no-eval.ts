import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

function calleeName(e: ts.Expression): string | undefined {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e) && ['globalThis', 'window', 'global'].includes(e.expression.getText())) return e.name.text;
  return undefined;
}

/** No code built from strings at run time: `eval`, `new Function`, string `setTimeout`. */
export const noEval = defineCheck({
  id: 'CB-033',
  name: 'no-eval',
  description: 'no eval, new Function or string-bodied timers in source',
  thresholds: z.object({}),
  run(ctx) {
    const hits = scanNodes(ctx, ctx.sourceFiles, 'fail', (n) => {
      if (!ts.isCallExpression(n) && !ts.isNewExpression(n)) return undefined;
      const name = calleeName(n.expression);
      if (name === 'eval' || name === 'Function') return `${name}() builds code from a string`;
      const first = n.arguments?.[0];
      if ((name === 'setTimeout' || name === 'setInterval') && first && ts.isStringLiteralLike(first)) return `${name} with a string body`;
      return undefined;
    });
    return outcome(`${plural(hits.length, 'dynamic code construction')} in source`, hits);
  },
});
