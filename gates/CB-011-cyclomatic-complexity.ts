import { functionGate, limits } from './lib/function-gate.js';
import { defineCheck } from './lib/types.js';

/** McCabe cyclomatic complexity per function, counted as ESLint's `complexity` rule does. */
export const cyclomaticComplexity = defineCheck({
  id: 'CB-011',
  name: 'cyclomatic-complexity',
  description: 'cyclomatic complexity of each source function stays under the limits',
  thresholds: limits(15, 25),
  run: (ctx, t) => functionGate(ctx, 'cyclomatic', 'cyclomatic', t),
});
