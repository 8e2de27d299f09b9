import { posix } from 'node:path';
import { ts } from 'ts-morph';
import { lineOf } from './ast.js';

export interface ImportEdge {
  from: string;
  to: string;
  /** Imported export names; '*' = every export (namespace import, `export *`, dynamic import). */
  names: readonly string[] | '*';
  typeOnly: boolean;
  line: number;
  specifier: string;
}

const EXTENSION_MAP: Record<string, string[]> = {
  '.js': ['.ts', '.tsx', '.js'],
  '.jsx': ['.tsx', '.jsx'],
  '.mjs': ['.mts', '.mjs'],
  '.cjs': ['.cts', '.cjs'],
};

/** Resolves a relative module specifier to a project file (NodeNext `.js` → `.ts` mapping). */
function resolveSpecifier(from: string, spec: string, files: ReadonlySet<string>): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  const ext = posix.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  const candidates = [base, ...(EXTENSION_MAP[ext] ?? []).map((e) => stem + e), `${base}.ts`, `${base}.tsx`, `${base}/index.ts`];
  return candidates.find((c) => files.has(c));
}

function importNames(clause: ts.ImportClause | undefined): { names: string[] | '*'; typeOnly: boolean } {
  if (!clause) return { names: [], typeOnly: false };
  const names: string[] = [];
  let allTypes = clause.isTypeOnly;
  if (clause.name) {
    names.push('default');
    allTypes = clause.isTypeOnly;
  }
  const nb = clause.namedBindings;
  if (nb && ts.isNamespaceImport(nb)) return { names: '*', typeOnly: clause.isTypeOnly };
  if (nb) {
    for (const el of nb.elements) names.push((el.propertyName ?? el.name).text);
    allTypes = clause.isTypeOnly || (!clause.name && nb.elements.length > 0 && nb.elements.every((e) => e.isTypeOnly));
  }
  return { names, typeOnly: allTypes };
}

function exportFromNames(decl: ts.ExportDeclaration): string[] | '*' {
  const clause = decl.exportClause;
  if (!clause || ts.isNamespaceExport(clause)) return '*';
  return clause.elements.map((e) => (e.propertyName ?? e.name).text);
}

/** The import and re-export edges of one file to other project files. */
export function fileImports(file: string, sf: ts.SourceFile, files: ReadonlySet<string>): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const add = (spec: string, node: ts.Node, names: readonly string[] | '*', typeOnly: boolean): void => {
    const to = resolveSpecifier(file, spec, files);
    if (to) edges.push({ from: file, to, names, typeOnly, line: lineOf(sf, node.getStart(sf)), specifier: spec });
  };
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const { names, typeOnly } = importNames(st.importClause);
      add(st.moduleSpecifier.text, st, names, typeOnly);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      add(st.moduleSpecifier.text, st, exportFromNames(st), st.isTypeOnly);
    }
  }
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = n.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) add(arg.text, n, '*', false);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return edges;
}

export interface ExportedName {
  name: string;
  line: number;
  typeOnly: boolean;
}

function hasExport(n: ts.Node): boolean {
  return ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function hasDefault(n: ts.Node): boolean {
  return ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
}

function declaredNames(st: ts.Statement): { names: string[]; typeOnly: boolean } {
  if (ts.isVariableStatement(st)) {
    return { names: st.declarationList.declarations.flatMap((d) => (ts.isIdentifier(d.name) ? [d.name.text] : [])), typeOnly: false };
  }
  const typeOnly = ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st);
  const named = st as ts.Statement & { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return { names: [hasDefault(st) ? 'default' : named.name.text], typeOnly };
  return { names: hasDefault(st) ? ['default'] : [], typeOnly };
}

/** Names a file exports by its own declarations (re-exports `from` another module are not listed). */
export function exportedNames(sf: ts.SourceFile): ExportedName[] {
  const out: ExportedName[] = [];
  for (const st of sf.statements) {
    const line = lineOf(sf, st.getStart(sf));
    if (ts.isExportAssignment(st)) out.push({ name: 'default', line, typeOnly: false });
    else if (ts.isExportDeclaration(st) && !st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const e of st.exportClause.elements) out.push({ name: e.name.text, line, typeOnly: st.isTypeOnly || e.isTypeOnly });
    } else if (hasExport(st)) {
      const { names, typeOnly } = declaredNames(st);
      for (const name of names) out.push({ name, line, typeOnly });
    }
  }
  return out;
}
