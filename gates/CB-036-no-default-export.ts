import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

/** Named exports only in source: one name per thing, greppable and refactor-safe. */
export const noDefaultExport = defineCheck({
  id: 'CB-036',
  name: 'no-default-export',
  description: 'no default exports in source',
  thresholds: z.object({}),
  run(ctx) {
    const hits = scanNodes(ctx, ctx.sourceFiles, 'fail', (n) => {
      if (ts.isExportAssignment(n) && !n.isExportEquals) return 'export default';
      const mods = ts.canHaveModifiers(n) ? (ts.getModifiers(n) ?? []) : [];
      return mods.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword) ? 'export default declaration' : undefined;
    });
    return outcome(`${plural(hits.length, 'default export')} in source`, hits);
  },
});
