import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ProjectContext } from './lib/context.js';
import { defineCheck, outcome, type Finding } from './lib/types.js';

/**
 * Mutation score per folder (StrykerJS, folded into the committed summary by scripts/mutation-summary.ts):
 * detected (killed or timed out) over valid mutants (detected, survived, no coverage); ignored mutants are the
 * equivalent ones, each with its reason in the source, and static ones (run only at module load, so Stryker does
 * not test them) are counted apart. A folder fails when its score is under its floor, when a
 * file in it has no entry or one made from other source (stale: re-run `npm run mutation -- <folder>`), or when
 * a floor sits under the score it was set from without a written reason. A floor may list `files`: then only
 * those files of the folder are under mutation testing (the folder's other files are not counted, and the message
 * says how many of them are).
 */
const Floor = z.object({
  floor: z.number().min(0).max(100),
  /** The score measured when the floor was set; a floor below it needs `reason`. */
  baseline: z.number().min(0).max(100),
  reason: z.string().min(1).optional(),
  /** The folder's files under mutation testing, when not all of them are (repo-relative paths). */
  files: z.array(z.string()).min(1).optional(),
});

const FileSummary = z.object({ sha256: z.string(), counts: z.record(z.string(), z.number()), survived: z.array(z.string()), ignored: z.array(z.string()) });
const Summary = z.object({ schema: z.literal('apr-mutation-summary-v1'), files: z.record(z.string(), FileSummary) });
type Summary = z.infer<typeof Summary>;

const DETECTED = ['Killed', 'Timeout'];
const UNDETECTED = ['Survived', 'NoCoverage'];

function count(s: Summary['files'][string], statuses: readonly string[]): number {
  return statuses.reduce((n, k) => n + (s.counts[k] ?? 0), 0);
}

interface FolderResult {
  detected: number;
  valid: number;
  ignored: number;
  /** Static mutants (run once at module load; Stryker's "ignoreStatic" leaves them untested): outside the score. */
  static: number;
  stale: string[];
  /** Source files in the folder that are not under mutation testing (its floor lists others). */
  uncovered: number;
}

function folderResult(ctx: ProjectContext, summary: Summary, folder: string, listed: readonly string[] | undefined): FolderResult {
  const prefix = folder.endsWith('/') ? folder : `${folder}/`;
  const all = ctx.files.filter((f) => (f.startsWith(prefix) || f === folder) && f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
  const files = listed ?? all;
  const r: FolderResult = { detected: 0, valid: 0, ignored: 0, static: 0, stale: [], uncovered: all.filter((f) => !files.includes(f)).length };
  for (const f of files) {
    const entry = summary.files[f];
    const text = ctx.text(f) ?? '';
    if (!entry || entry.sha256 !== createHash('sha256').update(text).digest('hex')) {
      r.stale.push(f);
      continue;
    }
    r.detected += count(entry, DETECTED);
    r.valid += count(entry, DETECTED) + count(entry, UNDETECTED);
    r.ignored += entry.counts['Ignored'] ?? 0;
    r.static += entry.counts['Static'] ?? 0;
  }
  return r;
}

function floorFindings(folder: string, f: z.infer<typeof Floor>, r: FolderResult, file: string): Finding[] {
  const out: Finding[] = [];
  if (f.floor < Math.floor(f.baseline) && !f.reason) out.push({ level: 'fail', file: 'pmat.config.json', message: `${folder}: floor ${f.floor}% is under the ${f.baseline}% it was set from, with no reason` });
  if (r.stale.length > 0) out.push({ level: 'fail', file, message: `${folder}: ${r.stale.length} file(s) without a current mutation result (e.g. ${r.stale[0]}): run npm run mutation -- ${folder}` });
  const score = r.valid === 0 ? 100 : (100 * r.detected) / r.valid;
  if (score < f.floor) out.push({ level: 'fail', file, message: `${folder}: mutation score ${score.toFixed(1)}% < floor ${f.floor}%` });
  return out;
}

export const mutationScore = defineCheck({
  id: 'CB-045',
  name: 'mutation-score',
  description: 'the StrykerJS mutation score of each listed folder is current and at or above its floor',
  thresholds: z.object({
    summary: z.string().default('mutation/summary.json'),
    folders: z.record(z.string(), Floor).default({}),
  }),
  run(ctx, t) {
    const names = Object.keys(t.folders);
    if (names.length === 0) return outcome('no folders under mutation testing');
    const parsed = Summary.safeParse(ctx.json(t.summary));
    if (!parsed.success) return outcome(`${t.summary} missing or malformed`, [{ level: 'fail', file: t.summary, message: `${t.summary}: missing or malformed (run npm run mutation)` }]);
    const findings: Finding[] = [];
    const parts: string[] = [];
    for (const folder of names) {
      const floor = t.folders[folder];
      if (!floor) continue;
      const r = folderResult(ctx, parsed.data, folder, floor.files);
      findings.push(...floorFindings(folder, floor, r, t.summary));
      const scope = floor.files ? `, ${floor.files.length} listed file(s), ${r.uncovered} not covered` : '';
      parts.push(`${folder} ${r.valid === 0 ? 'n/a' : ((100 * r.detected) / r.valid).toFixed(1)}% (floor ${floor.floor}%, ${r.valid} mutants, ${r.ignored} equivalent${r.static > 0 ? `, ${r.static} static not run` : ''}${scope})`);
    }
    return outcome(parts.join('; '), findings);
  },
});
