import { z } from 'zod';
import { importGraph } from './lib/analysis.js';
import { matchesAny, matchesGlob } from './lib/glob.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

/** Imports run one way: the `layers` rules of pmat.config.json (from → disallowed targets). */
export const layering = defineCheck({
  id: 'CB-037',
  name: 'layering',
  description: 'imports respect the layer rules in pmat.config.json',
  thresholds: z.object({}),
  run(ctx) {
    const rules = ctx.config.layers;
    const findings: Finding[] = [];
    let checked = 0;
    for (const e of importGraph(ctx)) {
      for (const r of rules.filter((x) => matchesGlob(e.from, x.from))) {
        checked++;
        if (matchesAny(e.to, r.disallow)) findings.push({ level: 'fail', file: e.from, line: e.line, message: `imports ${e.to}: ${r.from} may not import ${r.disallow.join(', ')}${r.reason ? ` (${r.reason})` : ''}` });
      }
    }
    return outcome(`${plural(rules.length, 'layer rule')}, ${plural(checked, 'import')} checked`, findings);
  },
});
