import { z } from 'zod';
import { importGraph } from './lib/analysis.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

/** Strongly connected components (Tarjan) of size > 1: the import cycles. */
export function cycles(nodes: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
    }
    if (low.get(v) !== idx.get(v)) return;
    const scc: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
      on.delete(w);
      scc.push(w);
    }
    if (scc.length > 1) out.push(scc.sort());
  };
  for (const v of nodes) if (!idx.has(v)) connect(v);
  return out;
}

/** No runtime import cycles among source files (`import type` edges are erased and do not count). */
export const importCycles = defineCheck({
  id: 'CB-038',
  name: 'import-cycles',
  description: 'no import cycles between source modules',
  thresholds: z.object({}),
  run(ctx) {
    const source = new Set(ctx.sourceFiles);
    const edges = new Map<string, string[]>();
    for (const e of importGraph(ctx)) {
      if (e.typeOnly || !source.has(e.from) || !source.has(e.to) || e.from === e.to) continue;
      edges.set(e.from, [...(edges.get(e.from) ?? []), e.to]);
    }
    const found = cycles(ctx.sourceFiles, edges);
    const findings: Finding[] = found.map((c) => ({ level: 'fail', file: c[0], message: `import cycle: ${c.join(' → ')}` }));
    return outcome(`${plural(found.length, 'import cycle')} among ${plural(ctx.sourceFiles.length, 'source file')}`, findings);
  },
});
