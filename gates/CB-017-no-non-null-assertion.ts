import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

/** No non-null assertions (`x!`) in production code: narrow or check instead. */
export const noNonNullAssertion = defineCheck({
  id: 'CB-017',
  name: 'no-non-null-assertion',
  description: 'no non-null assertions outside tests',
  thresholds: z.object({ max: z.number().int().min(0).default(0) }),
  run(ctx, t) {
    const hits = scanNodes(ctx, ctx.sourceFiles, 'fail', (n, sf) =>
      ts.isNonNullExpression(n) ? `non-null assertion '${n.getText(sf).slice(0, 60)}'` : undefined,
    );
    return outcome(`${plural(hits.length, 'non-null assertion')} in source (max ${t.max})`, hits.length > t.max ? hits : []);
  },
});
