import { breadcrumbs } from './breadcrumbs.js';
import { dareLinear, dareTies } from './dare.js';
import { della } from './della.js';
import { linear } from './linear.js';
import type { MergeMethod } from './method.js';
import { modelStock } from './model-stock.js';
import { slerp } from './slerp.js';
import { taskArithmetic } from './task-arithmetic.js';
import { ties } from './ties.js';

/** The merge methods by mergekit name (one file per method). */
const MERGE_METHODS: ReadonlyMap<string, MergeMethod> = new Map(
  [linear, slerp, taskArithmetic, ties, dareTies, dareLinear, breadcrumbs, modelStock, della].map((m) => [m.name, m]),
);

export const MERGE_METHOD_NAMES: readonly string[] = [...MERGE_METHODS.keys()];

export function mergeMethod(name: string): MergeMethod | undefined {
  return MERGE_METHODS.get(name);
}
