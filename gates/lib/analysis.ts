import type { ts } from 'ts-morph';
import { comments, functionMetrics, walk, type Comment, type FunctionMetrics } from './ast.js';
import type { ProjectContext } from './context.js';
import { findDuplication, normalisedTokens, type DuplicationReport } from './duplication.js';
import { fileImports, type ImportEdge } from './imports.js';
import type { Finding, Level } from './types.js';

/** Function metrics of every source file (memoised per run). */
export function sourceFunctions(ctx: ProjectContext): ReadonlyMap<string, FunctionMetrics[]> {
  return ctx.memo('functions', () => new Map(ctx.sourceFiles.map((f) => [f, functionMetrics(ctx.sourceFile(f))])));
}

export function fileComments(ctx: ProjectContext, file: string): Comment[] {
  return ctx.memo(`comments:${file}`, () => comments(ctx.sourceFile(file)));
}

export function duplication(ctx: ProjectContext, minTokens: number): DuplicationReport {
  return ctx.memo(`duplication:${minTokens}`, () =>
    findDuplication(new Map(ctx.sourceFiles.map((f) => [f, normalisedTokens(ctx.sourceFile(f))])), minTokens),
  );
}

/** Import edges between all analysed TypeScript files (source and tests). */
export function importGraph(ctx: ProjectContext): readonly ImportEdge[] {
  return ctx.memo('imports', () => {
    const files = new Set(ctx.tsFiles);
    return ctx.tsFiles.flatMap((f) => fileImports(f, ctx.sourceFile(f), files));
  });
}

/** Number of lines of a file (a trailing newline does not start a new line). */
export function lineCount(text: string): number {
  if (text.length === 0) return 0;
  const n = text.split('\n').length;
  return text.endsWith('\n') ? n - 1 : n;
}

/** Non-blank lines that are not only comment text: a rough but stable size measure. */
export function codeLines(text: string): number {
  let n = 0;
  let inBlock = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes('*/')) inBlock = false;
      continue;
    }
    if (line === '' || line.startsWith('//')) continue;
    if (line.startsWith('/*')) {
      inBlock = !line.includes('*/');
      continue;
    }
    n++;
  }
  return n;
}

/**
 * Runs `match` on every node of the given files and turns each hit into a finding.
 * `match` returns a message for a node that violates the rule.
 */
export function scanNodes(ctx: ProjectContext, files: readonly string[], level: Level, match: (n: ts.Node, sf: ts.SourceFile) => string | undefined): Finding[] {
  const findings: Finding[] = [];
  for (const file of files) {
    const sf = ctx.sourceFile(file);
    walk(sf, (n) => {
      const message = match(n, sf);
      if (message) findings.push({ level, file, line: sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1, message });
    });
  }
  return findings;
}
