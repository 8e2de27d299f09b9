import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

/** No `any` in production code (annotations, assertions, generics): tests may use it. */
export const noAny = defineCheck({
  id: 'CB-016',
  name: 'no-any',
  description: 'no explicit any outside tests',
  thresholds: z.object({ max: z.number().int().min(0).default(0) }),
  run(ctx, t) {
    const hits = scanNodes(ctx, ctx.sourceFiles, 'fail', (n, sf) =>
      n.kind === ts.SyntaxKind.AnyKeyword ? `'any' in ${n.parent.getText(sf).slice(0, 60)}` : undefined,
    );
    return outcome(`${plural(hits.length, 'explicit any')} in ${plural(ctx.sourceFiles.length, 'source file')} (max ${t.max})`, hits.length > t.max ? hits : []);
  },
});
