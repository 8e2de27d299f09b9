import { arceeFusion } from './arcee-fusion.js';
import { breadcrumbs } from './breadcrumbs.js';
import { breadcrumbsTies } from './breadcrumbs-ties.js';
import { dareLinear, dareTies } from './dare.js';
import { della } from './della.js';
import { dellaLinear } from './della-linear.js';
import { karcher } from './karcher.js';
import { linear } from './linear.js';
import type { MergeMethod } from './method.js';
import { modelStock } from './model-stock.js';
import { multislerp } from './multislerp.js';
import { nearswap } from './nearswap.js';
import { nuslerp } from './nuslerp.js';
import { passthrough } from './passthrough.js';
import { sce } from './sce.js';
import { slerp } from './slerp.js';
import { taskArithmetic } from './task-arithmetic.js';
import { ties } from './ties.js';

/** The merge methods by mergekit name (one file per method). */
const MERGE_METHODS: ReadonlyMap<string, MergeMethod> = new Map(
  [
    linear, slerp, taskArithmetic, ties, dareTies, dareLinear, breadcrumbs, modelStock, della,
    nuslerp, breadcrumbsTies, dellaLinear, sce, karcher, multislerp, nearswap, arceeFusion, passthrough,
  ].map((m) => [m.name, m]),
);

export const MERGE_METHOD_NAMES: readonly string[] = [...MERGE_METHODS.keys()];

export function mergeMethod(name: string): MergeMethod | undefined {
  return MERGE_METHODS.get(name);
}
