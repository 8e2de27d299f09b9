import { z } from 'zod';
import { lineCount } from './lib/analysis.js';
import { defineCheck, levelAbove, outcome, plural, type Finding } from './lib/types.js';

/** Source and test files stay short enough to read: warn above `warn` lines, fail above `fail`. */
export const fileLength = defineCheck({
  id: 'CB-009',
  name: 'file-length',
  description: 'TypeScript files stay under the line limits',
  thresholds: z.object({
    warn: z.number().int().positive().default(400),
    fail: z.number().int().positive().default(600),
    includeTests: z.boolean().default(true),
  }),
  run(ctx, t) {
    const files = t.includeTests ? [...ctx.sourceFiles, ...ctx.testFiles] : ctx.sourceFiles;
    const findings: Finding[] = [];
    let longest = { file: '', lines: 0 };
    for (const file of files) {
      const lines = lineCount(ctx.text(file) ?? '');
      if (lines > longest.lines) longest = { file, lines };
      const level = levelAbove(lines, t.warn, t.fail);
      if (level) findings.push({ level, file, message: `${lines} lines > ${level === 'fail' ? t.fail : t.warn}` });
    }
    return outcome(`${plural(files.length, 'file')}, longest ${longest.file || '-'} (${longest.lines} lines); limits ${t.warn}/${t.fail}`, findings);
  },
});
