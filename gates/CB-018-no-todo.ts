import { z } from 'zod';
import { fileComments } from './lib/analysis.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

/** No to-do/fix-me marker comments in production code: file an issue instead. */
export const noTodo = defineCheck({
  id: 'CB-018',
  name: 'no-todo',
  description: 'no TODO/FIXME/XXX comments in source',
  thresholds: z.object({ markers: z.array(z.string().min(1)).default(['TODO', 'FIXME', 'XXX', 'HACK']) }),
  run(ctx, t) {
    const marker = new RegExp(`\\b(${t.markers.join('|')})\\b`);
    const findings: Finding[] = [];
    for (const file of ctx.sourceFiles) {
      for (const c of fileComments(ctx, file)) {
        const m = marker.exec(c.text);
        if (m) findings.push({ level: 'fail', file, line: c.line, message: `${m[1] ?? ''} comment: ${c.text.replace(/\s+/g, ' ').slice(0, 80)}` });
      }
    }
    return outcome(`${plural(findings.length, 'marker comment')} (${t.markers.join('/')}) in source`, findings);
  },
});
