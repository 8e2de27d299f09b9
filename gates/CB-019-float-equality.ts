import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { defineCheck, outcome, plural } from './lib/types.js';

const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);
const ARITHMETIC = new Set([
  ts.SyntaxKind.PlusToken,
  ts.SyntaxKind.MinusToken,
  ts.SyntaxKind.AsteriskToken,
  ts.SyntaxKind.SlashToken,
  ts.SyntaxKind.PercentToken,
  ts.SyntaxKind.AsteriskAsteriskToken,
]);
/** Math functions whose results are generally not exact integers (fround is left out: `Math.fround(x) === x` is the exact f32-representability test). */
const FLOAT_MATH = new Set(['sqrt', 'cbrt', 'exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'pow', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2', 'sinh', 'cosh', 'tanh', 'hypot', 'random']);

function strip(e: ts.Expression): ts.Expression {
  return ts.isParenthesizedExpression(e) ? strip(e.expression) : e;
}

function isFloatLiteral(e: ts.Expression): boolean {
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken) return isFloatLiteral(e.operand);
  return ts.isNumericLiteral(e) && !/^0[xob]/i.test(e.text) && /[.eE]/.test(e.getText());
}

function isFloatMathCall(e: ts.Expression): boolean {
  return ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.expression.getText() === 'Math' && FLOAT_MATH.has(e.expression.name.text);
}

/** An arithmetic tree that produces non-integers: it divides, exponentiates, has a float literal or a float Math call. */
function producesFloat(e: ts.Expression, strict: boolean): boolean {
  const x = strip(e);
  if (isFloatLiteral(x) || isFloatMathCall(x)) return true;
  if (!ts.isBinaryExpression(x) || !ARITHMETIC.has(x.operatorToken.kind)) return false;
  const op = x.operatorToken.kind;
  if (strict || op === ts.SyntaxKind.SlashToken || op === ts.SyntaxKind.AsteriskAsteriskToken) return true;
  return producesFloat(x.left, strict) || producesFloat(x.right, strict);
}

function isNumberTyped(e: ts.Expression, checker: ts.TypeChecker): boolean {
  return (checker.getTypeAtLocation(e).flags & ts.TypeFlags.NumberLike) !== 0;
}

/** Operand of an equality that is a float literal or a computed float (an arithmetic expression of number type). */
function floatOperand(e: ts.Expression, checker: () => ts.TypeChecker, strict: boolean): string | undefined {
  const x = strip(e);
  if (isFloatLiteral(x)) return 'a float literal';
  if (isFloatMathCall(x)) return 'a floating-point Math result';
  if (ts.isBinaryExpression(x) && ARITHMETIC.has(x.operatorToken.kind) && producesFloat(x, strict) && isNumberTyped(x, checker())) return 'computed floating-point arithmetic';
  return undefined;
}

/** No exact equality on floating-point values: compare computed numbers with a tolerance. */
export const floatEquality = defineCheck({
  id: 'CB-019',
  name: 'float-equality',
  description: 'no ===/== on float literals or computed floating-point numbers',
  thresholds: z.object({
    /** Also flag integer-looking arithmetic (`a * b === c`). */
    strict: z.boolean().default(false),
  }),
  run(ctx, t) {
    const checker = (): ts.TypeChecker => ctx.typeChecker();
    const hits = scanNodes(ctx, ctx.sourceFiles, 'fail', (n, sf) => {
      if (!ts.isBinaryExpression(n) || !EQUALITY.has(n.operatorToken.kind)) return undefined;
      const why = floatOperand(n.left, checker, t.strict) ?? floatOperand(n.right, checker, t.strict);
      return why ? `'${n.getText(sf).slice(0, 70)}' compares ${why} exactly; use a tolerance` : undefined;
    });
    return outcome(`${plural(hits.length, 'exact floating-point comparison')} in source`, hits);
  },
});
