import { z } from 'zod';
import { duplication } from './lib/analysis.js';
import { defineCheck, levelAbove, outcome, plural } from './lib/types.js';

/**
 * Code duplication by token-window hashing: identifiers and literals are normalised, so renamed
 * copies match; the share of duplicated tokens over all source tokens is held under the limits.
 */
export const duplicationCheck = defineCheck({
  id: 'CB-014',
  name: 'duplication',
  description: 'duplicated code (normalised token windows) stays under the limits',
  thresholds: z.object({
    minTokens: z.number().int().min(10).default(70),
    warnPercent: z.number().min(0).max(100).default(4),
    failPercent: z.number().min(0).max(100).default(8),
  }),
  run(ctx, t) {
    const d = duplication(ctx, t.minTokens);
    const pct = d.totalTokens === 0 ? 0 : (100 * d.duplicatedTokens) / d.totalTokens;
    const level = levelAbove(pct, t.warnPercent, t.failPercent);
    const findings = level
      ? d.clones.map((c) => ({ level, file: c.file, line: c.startLine, message: `${c.tokens} tokens (lines ${c.startLine}-${c.endLine}) duplicate ${c.otherFile}:${c.otherLine}` }))
      : [];
    return outcome(`${pct.toFixed(2)}% of ${d.totalTokens} tokens duplicated in ${plural(d.clones.length, 'clone')} (windows of ${t.minTokens}); limits ${t.warnPercent}%/${t.failPercent}%`, findings);
  },
});
