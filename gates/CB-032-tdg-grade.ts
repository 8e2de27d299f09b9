import { ts } from 'ts-morph';
import { z } from 'zod';
import { duplication, fileComments, lineCount, sourceFunctions } from './lib/analysis.js';
import { walk, type FunctionMetrics } from './lib/ast.js';
import type { ProjectContext } from './lib/context.js';
import { defineCheck, outcome, type Finding } from './lib/types.js';

const GRADES = ['A', 'B', 'C', 'D', 'F'] as const;
type Grade = (typeof GRADES)[number];

export interface FileFacts {
  lines: number;
  functions: readonly FunctionMetrics[];
  duplicatedShare: number;
  /** Counted smells: any, non-null assertions, marker comments, empty catches. */
  smells: number;
}

export interface TdgLimits {
  fileLines: number;
  functionLines: number;
  cyclomatic: number;
  cognitive: number;
  nesting: number;
}

/** Penalty of one measure against its limit: 0 within, 5 above, 10 above 1.5×. */
function over(value: number, limit: number): number {
  if (value > 1.5 * limit) return 10;
  return value > limit ? 5 : 0;
}

/**
 * Technical-debt score of a file, 100 = no debt: size, each function's length and complexity (capped
 * at 40), duplicated share (up to 20) and code smells (3 each, up to 15).
 */
export function tdgScore(f: FileFacts, l: TdgLimits): number {
  const size = f.lines > 1.5 * l.fileLines ? 20 : f.lines > l.fileLines ? 10 : 0;
  const fn = f.functions.reduce(
    (s, m) => s + over(m.lines, l.functionLines) + over(m.cyclomatic, l.cyclomatic) + over(m.cognitive, l.cognitive) + over(m.nesting, l.nesting),
    0,
  );
  const dup = Math.min(20, Math.round(50 * f.duplicatedShare));
  return Math.max(0, 100 - size - Math.min(40, fn) - dup - Math.min(15, 3 * f.smells));
}

export function grade(score: number): Grade {
  if (score >= 90) return 'A';
  if (score >= 80) return 'B';
  if (score >= 70) return 'C';
  return score >= 60 ? 'D' : 'F';
}

const SMELL = /\b(TODO|FIXME|XXX|HACK)\b/;

function smells(ctx: ProjectContext, file: string): number {
  let n = fileComments(ctx, file).filter((c) => SMELL.test(c.text)).length;
  walk(ctx.sourceFile(file), (x) => {
    if (x.kind === ts.SyntaxKind.AnyKeyword || ts.isNonNullExpression(x) || (ts.isCatchClause(x) && x.block.statements.length === 0)) n++;
  });
  return n;
}

/** A TDG-style grade per source file (A–F) from the other metrics; files below the limits are reported. */
export const tdgGrade = defineCheck({
  id: 'CB-032',
  name: 'tdg-grade',
  description: 'every source file grades at or above the limits (technical-debt grade A–F)',
  thresholds: z.object({
    warnBelow: z.enum(GRADES).default('B'),
    failBelow: z.enum(GRADES).default('C'),
    fileLines: z.number().int().positive().default(400),
    functionLines: z.number().int().positive().default(60),
    cyclomatic: z.number().int().positive().default(15),
    cognitive: z.number().int().positive().default(20),
    nesting: z.number().int().positive().default(4),
    minTokens: z.number().int().min(10).default(70),
  }),
  run(ctx, t) {
    const dup = duplication(ctx, t.minTokens);
    const fns = sourceFunctions(ctx);
    const counts: Record<Grade, number> = { A: 0, B: 0, C: 0, D: 0, F: 0 };
    const findings: Finding[] = [];
    let sum = 0;
    for (const file of ctx.sourceFiles) {
      const d = dup.perFile.get(file);
      const facts = { lines: lineCount(ctx.text(file) ?? ''), functions: fns.get(file) ?? [], duplicatedShare: d && d.total > 0 ? d.duplicated / d.total : 0, smells: smells(ctx, file) };
      const score = tdgScore(facts, t);
      const g = grade(score);
      sum += score;
      counts[g]++;
      const rank = GRADES.indexOf(g);
      if (rank > GRADES.indexOf(t.failBelow)) findings.push({ level: 'fail', file, message: `grade ${g} (${score})` });
      else if (rank > GRADES.indexOf(t.warnBelow)) findings.push({ level: 'warn', file, message: `grade ${g} (${score})` });
    }
    const mean = ctx.sourceFiles.length > 0 ? sum / ctx.sourceFiles.length : 100;
    const dist = GRADES.map((g) => `${counts[g]} ${g}`).join(', ');
    return outcome(`mean score ${mean.toFixed(1)} (${grade(mean)}); ${dist}; limits ${t.warnBelow}/${t.failBelow}`, findings);
  },
});
