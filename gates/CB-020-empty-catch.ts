import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

function hasComment(block: ts.Block, sf: ts.SourceFile): boolean {
  const inner = sf.getFullText().slice(block.getStart(sf) + 1, block.getEnd() - 1);
  return /\/\/|\/\*/.test(inner);
}

/** No catch block that swallows an error silently (a comment saying why is allowed by default). */
export const emptyCatch = defineCheck({
  id: 'CB-020',
  name: 'empty-catch',
  description: 'no empty catch blocks',
  thresholds: z.object({ allowWithComment: z.boolean().default(true) }),
  run(ctx, t) {
    const files = [...ctx.sourceFiles, ...ctx.testFiles];
    const hits = scanNodes(ctx, files, 'fail', (n, sf) => {
      if (!ts.isCatchClause(n) || n.block.statements.length > 0) return undefined;
      return t.allowWithComment && hasComment(n.block, sf) ? undefined : 'empty catch block swallows the error';
    });
    return outcome(`${plural(hits.length, 'empty catch block')} in ${plural(files.length, 'file')}`, hits);
  },
});
