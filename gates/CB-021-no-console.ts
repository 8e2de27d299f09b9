import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

/** Library code reports through return values and errors; only the CLI prints. */
export const noConsole = defineCheck({
  id: 'CB-021',
  name: 'no-console',
  description: 'no console.log (and friends) in library code outside the CLI',
  thresholds: z.object({ methods: z.array(z.string()).default(['log', 'info', 'debug', 'trace', 'dir', 'table']) }),
  run(ctx, t) {
    const methods = new Set(t.methods);
    const hits = scanNodes(ctx, ctx.libraryFiles, 'fail', (n, sf) => {
      if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) return undefined;
      const target = n.expression;
      return target.expression.getText(sf) === 'console' && methods.has(target.name.text) ? `console.${target.name.text} in library code` : undefined;
    });
    return outcome(`${plural(hits.length, 'console call')} in ${plural(ctx.libraryFiles.length, 'library file')}`, hits);
  },
});
