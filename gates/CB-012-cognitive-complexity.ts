import { functionGate, limits } from './lib/function-gate.js';
import { defineCheck } from './lib/types.js';

/** Cognitive complexity per function (SonarSource's definition, nesting-weighted). */
export const cognitiveComplexity = defineCheck({
  id: 'CB-012',
  name: 'cognitive-complexity',
  description: 'cognitive complexity of each source function stays under the limits',
  thresholds: limits(20, 30),
  run: (ctx, t) => functionGate(ctx, 'cognitive', 'cognitive', t),
});
