import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

const SYNC = new Set(['execSync', 'execFileSync', 'spawnSync']);
const MODULES = new Set(['child_process', 'node:child_process']);

/** Library code never blocks the event loop on a child process. */
export const noSyncChildProcess = defineCheck({
  id: 'CB-034',
  name: 'no-sync-child-process',
  description: 'no execSync/spawnSync/execFileSync in library code',
  thresholds: z.object({}),
  run(ctx) {
    const hits = scanNodes(ctx, ctx.libraryFiles, 'fail', (n) => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier) && MODULES.has(n.moduleSpecifier.text)) {
        const nb = n.importClause?.namedBindings;
        const names = nb && ts.isNamedImports(nb) ? nb.elements.map((e) => (e.propertyName ?? e.name).text).filter((x) => SYNC.has(x)) : [];
        return names.length > 0 ? `imports ${names.join(', ')} from ${n.moduleSpecifier.text}` : undefined;
      }
      if (ts.isPropertyAccessExpression(n) && SYNC.has(n.name.text) && ts.isCallExpression(n.parent) && n.parent.expression === n) return `calls ${n.getText()}`;
      return undefined;
    });
    return outcome(`${plural(hits.length, 'synchronous child process use')} in ${plural(ctx.libraryFiles.length, 'library file')}`, hits);
  },
});
