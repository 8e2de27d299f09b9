import { ts } from 'ts-morph';
import { z } from 'zod';
import { lineOf } from './lib/ast.js';
import type { ProjectContext } from './lib/context.js';
import { readBindings, type BindingEntry } from './lib/contracts.js';
import { matchesAny } from './lib/glob.js';
import { defineCheck, outcome, plural, skip, type Finding } from './lib/types.js';

function isExported(n: ts.Node): boolean {
  return ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function isPublicMethod(m: ts.ClassElement): m is ts.MethodDeclaration {
  if (!ts.isMethodDeclaration(m) || ts.isPrivateIdentifier(m.name)) return false;
  return !(ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword);
}

interface Callable {
  symbol: string;
  line: number;
}

function functionConsts(st: ts.VariableStatement, line: number): Callable[] {
  return st.declarationList.declarations.flatMap((d) => {
    const init = d.initializer;
    return ts.isIdentifier(d.name) && init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) ? [{ symbol: d.name.text, line }] : [];
  });
}

function publicMethods(st: ts.ClassDeclaration, sf: ts.SourceFile): Callable[] {
  const cls = st.name?.text ?? 'default';
  return st.members.filter(isPublicMethod).map((m) => ({ symbol: `${cls}.${m.name.getText(sf)}`, line: lineOf(sf, m.getStart(sf)) }));
}

/** Exported functions, function-valued consts and public methods of exported classes: `name` or `Class.method`. */
function exportedCallables(sf: ts.SourceFile): Callable[] {
  return sf.statements.filter(isExported).flatMap((st): Callable[] => {
    const line = lineOf(sf, st.getStart(sf));
    if (ts.isFunctionDeclaration(st)) return [{ symbol: st.name?.text ?? 'default', line }];
    if (ts.isVariableStatement(st)) return functionConsts(st, line);
    return ts.isClassDeclaration(st) ? publicMethods(st, sf) : [];
  });
}

function staleEntries(ctx: ProjectContext, entries: readonly BindingEntry[], contractsDir: string): Finding[] {
  const findings: Finding[] = [];
  for (const e of entries) {
    if (!ctx.exists(`${contractsDir}/${e.contract}.yaml`)) findings.push({ level: 'fail', message: `binding of ${e.symbol ?? '?'} names contract '${e.contract}' without ${contractsDir}/${e.contract}.yaml` });
    if (e.file && !ctx.exists(e.file)) findings.push({ level: 'fail', file: e.file, message: `binding registry is stale: ${e.file} does not exist (rebuild)` });
  }
  return findings;
}

/** Every exported op and kernel is bound to a contract, per the binder's registry and per the AST. */
export const contractBinding = defineCheck({
  id: 'CB-006',
  name: 'contract-binding',
  description: 'contracts/binding.json has no unbound entries and binds every exported op and kernel',
  thresholds: z.object({
    registry: z.string().default('contracts/binding.json'),
    contractsDir: z.string().default('contracts'),
    guarded: z.array(z.string()).default(['src/ops/**', 'src/kernels/**']),
  }),
  run(ctx, t) {
    const guarded = ctx.sourceFiles.filter((f) => matchesAny(f, t.guarded));
    const callables = guarded.flatMap((file) => exportedCallables(ctx.sourceFile(file)).map((c) => ({ ...c, file })));
    const reg = readBindings(ctx, t.registry);
    if (typeof reg === 'string') {
      const hasContracts = callables.length > 0 || ctx.files.some((f) => f.startsWith(`${t.contractsDir}/`) && f.endsWith('.yaml'));
      return hasContracts ? outcome(reg, [{ level: 'fail', message: `${reg}: run the contract binder` }]) : skip('no contracts and no guarded ops/kernels in this project');
    }
    const findings: Finding[] = reg.unbound.map((u) => ({ level: 'fail' as const, file: t.registry, message: `unbound: ${typeof u === 'string' ? u : JSON.stringify(u)}` }));
    findings.push(...staleEntries(ctx, reg.contracts, t.contractsDir));
    const bound = new Set(reg.contracts.map((e) => `${e.file ?? ''}#${e.symbol ?? ''}`));
    for (const c of callables) {
      if (!bound.has(`${c.file}#${c.symbol}`)) findings.push({ level: 'fail', file: c.file, line: c.line, message: `exported '${c.symbol}' is not bound to a contract` });
    }
    return outcome(`${plural(reg.contracts.length, 'binding')}, ${plural(callables.length, 'exported op/kernel')} in guarded paths, ${reg.unbound.length} unbound`, findings);
  },
});
