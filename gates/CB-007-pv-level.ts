import { z } from 'zod';
import { tail } from './lib/cached-tool.js';
import { resolveBin, runProcess } from './lib/tools.js';
import { defineCheck, outcome, plural, skip, type Finding } from './lib/types.js';

interface ContractLevel {
  id: string;
  level: number;
}

function levelNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const m = /^L?(\d)$/i.exec(v.trim());
    if (m) return Number(m[1]);
    if (/^(none|-|L?0)$/i.test(v.trim())) return 0;
  }
  return undefined;
}

function entry(id: unknown, o: unknown): ContractLevel[] {
  if (!o || typeof o !== 'object') return [];
  const r = o as Record<string, unknown>;
  const name = typeof id === 'string' ? id : (r['id'] ?? r['contract']);
  const level = levelNumber(r['level']);
  return typeof name === 'string' && level !== undefined ? [{ id: name, level }] : [];
}

/** Reads `pv proof-status --format json`: `{contracts: [{id, level}]}` (level 3 or "L3"), or a map by id. */
export function parseProofStatus(text: string): ContractLevel[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const list = Array.isArray(doc) ? doc : (doc as Record<string, unknown> | null)?.['contracts'];
  if (Array.isArray(list)) return list.flatMap((o: unknown) => entry(undefined, o));
  if (list && typeof list === 'object') return Object.entries(list).flatMap(([id, o]) => entry(id, o));
  return undefined;
}

/** Every contract reaches the minimum proof level that `pv proof-status` assigns (L1..L5). */
export const pvLevel = defineCheck({
  id: 'CB-007',
  name: 'pv-level',
  description: 'every contract is at or above the minimum pv proof-status level',
  slow: true,
  thresholds: z.object({
    minLevel: z.number().int().min(1).max(5).default(1),
    entry: z.string().default('src/cli/pv.ts'),
    timeoutSeconds: z.number().positive().default(300),
  }),
  async run(ctx, t) {
    if (!ctx.exists(t.entry)) return skip(`${t.entry} not found: no pv in this project`);
    if (ctx.skipSlow) return skip('skipped (--skip-slow)');
    const tsx = resolveBin(ctx.root, 'tsx');
    if (!tsx) return outcome('tsx not installed', [{ level: 'fail', message: `cannot run ${t.entry}: tsx is not installed` }]);
    const r = await ctx.withToolSlot(() =>
      runProcess(process.execPath, [tsx, t.entry, 'proof-status', '--format', 'json'], { cwd: ctx.root, timeoutMs: t.timeoutSeconds * 1000 }),
    );
    const levels = parseProofStatus(r.stdout);
    if (!levels) return outcome(`pv proof-status gave no JSON (exit ${r.code})`, [{ level: 'fail', message: tail(r) }]);
    const findings: Finding[] = levels
      .filter((c) => c.level < t.minLevel)
      .map((c) => ({ level: 'fail', message: `contract ${c.id} is at L${c.level}, below L${t.minLevel}` }));
    const min = levels.length > 0 ? Math.min(...levels.map((c) => c.level)) : undefined;
    return outcome(`${plural(levels.length, 'contract')}, lowest level ${min === undefined ? '-' : `L${min}`} (minimum L${t.minLevel})`, findings);
  },
});
