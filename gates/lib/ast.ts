import { ts } from 'ts-morph';

export type FunctionNode =
  | ts.FunctionDeclaration
  | ts.FunctionExpression
  | ts.ArrowFunction
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration;

export function isFunctionNode(n: ts.Node): n is FunctionNode {
  return (
    ts.isFunctionDeclaration(n) ||
    ts.isFunctionExpression(n) ||
    ts.isArrowFunction(n) ||
    ts.isMethodDeclaration(n) ||
    ts.isConstructorDeclaration(n) ||
    ts.isGetAccessorDeclaration(n) ||
    ts.isSetAccessorDeclaration(n)
  );
}

/** Visits every node of a tree depth-first. */
export function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  const go = (n: ts.Node): void => {
    visit(n);
    ts.forEachChild(n, go);
  };
  go(node);
}

export function lineOf(sf: ts.SourceFile, pos: number): number {
  return sf.getLineAndCharacterOfPosition(pos).line + 1;
}

function startLine(sf: ts.SourceFile, n: ts.Node): number {
  return lineOf(sf, n.getStart(sf));
}

/** A readable name: `name`, `Class.method`, the variable or property it is assigned to, or `<callee> callback`. */
function functionName(fn: FunctionNode, sf: ts.SourceFile): string {
  const own = fn.name && !ts.isComputedPropertyName(fn.name) ? fn.name.getText(sf) : undefined;
  if (ts.isConstructorDeclaration(fn) || (own && ts.isClassLike(fn.parent))) {
    const cls = ts.isClassLike(fn.parent) && fn.parent.name ? fn.parent.name.text : '<class>';
    return `${cls}.${own ?? 'constructor'}`;
  }
  if (own) return own;
  const p = fn.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText(sf);
  if (ts.isCallExpression(p)) return `${p.expression.getText(sf).slice(0, 40)} callback`;
  return '<anonymous>';
}

const LOGICAL = new Set([
  ts.SyntaxKind.AmpersandAmpersandToken,
  ts.SyntaxKind.BarBarToken,
  ts.SyntaxKind.QuestionQuestionToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
]);

const BRANCHES = new Set([
  ts.SyntaxKind.IfStatement,
  ts.SyntaxKind.ConditionalExpression,
  ts.SyntaxKind.ForStatement,
  ts.SyntaxKind.ForInStatement,
  ts.SyntaxKind.ForOfStatement,
  ts.SyntaxKind.WhileStatement,
  ts.SyntaxKind.DoStatement,
  ts.SyntaxKind.CaseClause,
  ts.SyntaxKind.CatchClause,
]);

function isLogical(n: ts.Node): n is ts.BinaryExpression {
  return ts.isBinaryExpression(n) && LOGICAL.has(n.operatorToken.kind);
}

/**
 * McCabe cyclomatic complexity as ESLint's `complexity` rule counts it: 1 + branches (if, ?:, loops,
 * non-default case, catch) + short-circuit operators. Nested functions are measured on their own.
 */
function cyclomatic(fn: FunctionNode): number {
  let c = 1;
  const visit = (n: ts.Node): void => {
    if (isFunctionNode(n)) return;
    if (BRANCHES.has(n.kind) || isLogical(n)) c++;
    ts.forEachChild(n, visit);
  };
  ts.forEachChild(fn, visit);
  return c;
}

function isLoop(n: ts.Node): n is ts.IterationStatement {
  return ts.isForStatement(n) || ts.isForInStatement(n) || ts.isForOfStatement(n) || ts.isWhileStatement(n) || ts.isDoStatement(n);
}

/** Operators of a maximal run of logical operators, in source order (through parentheses). */
function logicalOperators(n: ts.Node, out: ts.SyntaxKind[], operands: ts.Node[]): void {
  const inner = ts.isParenthesizedExpression(n) && isLogical(n.expression) ? n.expression : n;
  if (!isLogical(inner)) {
    operands.push(n);
    return;
  }
  logicalOperators(inner.left, out, operands);
  out.push(inner.operatorToken.kind);
  logicalOperators(inner.right, out, operands);
}

/**
 * Cognitive complexity (G. Ann Campbell, SonarSource 2017): +1 for each break in linear flow (if,
 * else if, else, ?:, switch, loops, catch, labelled jumps, each run of like logical operators), plus
 * the nesting level for the structures that nest. Nested functions raise the nesting of their body
 * but are reported as separate functions, so their increments are not added here.
 */
function cognitive(fn: FunctionNode): number {
  let total = 0;
  const nested = (nodes: readonly (ts.Node | undefined)[], level: number): void => {
    for (const x of nodes) if (x) visit(x, level);
  };
  const visitIf = (n: ts.IfStatement, level: number, elseIf: boolean): void => {
    total += elseIf ? 1 : 1 + level;
    nested([n.expression], level);
    nested([n.thenStatement], level + 1);
    const alt = n.elseStatement;
    if (alt && ts.isIfStatement(alt)) visitIf(alt, level, true);
    else if (alt) {
      total += 1;
      nested([alt], level + 1);
    }
  };
  const visit = (n: ts.Node, level: number): void => {
    if (isFunctionNode(n)) return;
    if (ts.isIfStatement(n)) return visitIf(n, level, false);
    if (ts.isConditionalExpression(n)) {
      total += 1 + level;
      return nested([n.condition, n.whenTrue, n.whenFalse], level + 1);
    }
    if (ts.isSwitchStatement(n) || isLoop(n) || ts.isCatchClause(n)) {
      total += 1 + level;
      return ts.forEachChild(n, (c) => visit(c, level + 1));
    }
    if ((ts.isBreakStatement(n) || ts.isContinueStatement(n)) && n.label) total += 1;
    if (isLogical(n)) {
      const ops: ts.SyntaxKind[] = [];
      const operands: ts.Node[] = [];
      logicalOperators(n, ops, operands);
      total += ops.filter((op, i) => i === 0 || op !== ops[i - 1]).length;
      return nested(operands, level);
    }
    ts.forEachChild(n, (c) => visit(c, level));
  };
  ts.forEachChild(fn, (c) => visit(c, 0));
  return total;
}

const DEPTH_NODES = new Set([
  ts.SyntaxKind.IfStatement,
  ts.SyntaxKind.ForStatement,
  ts.SyntaxKind.ForInStatement,
  ts.SyntaxKind.ForOfStatement,
  ts.SyntaxKind.WhileStatement,
  ts.SyntaxKind.DoStatement,
  ts.SyntaxKind.SwitchStatement,
  ts.SyntaxKind.TryStatement,
  ts.SyntaxKind.WithStatement,
]);

/** Deepest nesting of blocks (ESLint `max-depth`): an `else if` stays at its `if`'s depth. */
function nestingDepth(fn: FunctionNode): number {
  let max = 0;
  const visit = (n: ts.Node, depth: number): void => {
    if (isFunctionNode(n)) return;
    const elseIf = ts.isIfStatement(n) && ts.isIfStatement(n.parent) && n.parent.elseStatement === n;
    const d = DEPTH_NODES.has(n.kind) && !elseIf ? depth + 1 : depth;
    max = Math.max(max, d);
    ts.forEachChild(n, (c) => visit(c, elseIf ? depth : d));
  };
  ts.forEachChild(fn, (c) => visit(c, 0));
  return max;
}

export interface FunctionMetrics {
  name: string;
  line: number;
  lines: number;
  cyclomatic: number;
  cognitive: number;
  nesting: number;
}

/** Every function-like node with a body, with its size and complexity. */
export function functionMetrics(sf: ts.SourceFile): FunctionMetrics[] {
  const out: FunctionMetrics[] = [];
  walk(sf, (n) => {
    if (!isFunctionNode(n) || !n.body) return;
    const line = startLine(sf, n);
    out.push({
      name: functionName(n, sf),
      line,
      lines: lineOf(sf, n.getEnd()) - line + 1,
      cyclomatic: cyclomatic(n),
      cognitive: cognitive(n),
      nesting: nestingDepth(n),
    });
  });
  return out;
}

export interface Comment {
  text: string;
  line: number;
  pos: number;
}

/** Every comment of a file, found from the trivia before each token (so strings are never mistaken). */
export function comments(sf: ts.SourceFile): Comment[] {
  const text = sf.getFullText();
  const seen = new Map<number, Comment>();
  const collect = (pos: number): void => {
    // trailing = comments on the rest of the line at `pos`; leading = those on the lines after it
    for (const r of [...(ts.getTrailingCommentRanges(text, pos) ?? []), ...(ts.getLeadingCommentRanges(text, pos) ?? [])]) {
      if (!seen.has(r.pos)) seen.set(r.pos, { text: text.slice(r.pos, r.end), line: lineOf(sf, r.pos), pos: r.pos });
    }
  };
  const visit = (n: ts.Node): void => {
    if (n.kind >= ts.SyntaxKind.FirstJSDocNode && n.kind <= ts.SyntaxKind.LastJSDocNode) return;
    const kids = n.getChildren(sf);
    if (kids.length === 0) collect(n.pos);
    for (const k of kids) visit(k);
  };
  collect(0);
  visit(sf);
  return [...seen.values()].sort((a, b) => a.pos - b.pos);
}
