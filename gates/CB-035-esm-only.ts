import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

const CJS_GLOBALS = new Set(['__dirname', '__filename']);

function cjsUse(n: ts.Node): string | undefined {
  if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'require') return 'require() call';
  if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) return 'import = require()';
  if (ts.isIdentifier(n) && CJS_GLOBALS.has(n.text) && !ts.isPropertyAccessExpression(n.parent)) return `${n.text} (CommonJS only; use import.meta.dirname/filename)`;
  if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'module' && n.name.text === 'exports') return 'module.exports';
  return undefined;
}

/** The package is ESM only: `"type": "module"`, no CommonJS constructs or files in source and tests. */
export const esmOnly = defineCheck({
  id: 'CB-035',
  name: 'esm-only',
  description: 'package type module; no require, module.exports, __dirname or .cjs/.cts files',
  thresholds: z.object({}),
  run(ctx) {
    const findings: Finding[] = [];
    if (ctx.packageJson()?.['type'] !== 'module') findings.push({ level: 'fail', file: 'package.json', message: 'missing "type": "module"' });
    const code = [...ctx.sourceFiles, ...ctx.testFiles];
    for (const f of code.filter((x) => /\.c(t|j)s$/.test(x))) findings.push({ level: 'fail', file: f, message: 'CommonJS file' });
    findings.push(...scanNodes(ctx, code, 'fail', cjsUse));
    return outcome(`${plural(findings.length, 'CommonJS construct')} in ${plural(code.length, 'file')}`, findings);
  },
});
