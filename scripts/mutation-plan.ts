/**
 * Plans a mutation run for scripts/mutation.sh: for each target (a folder or file; by default each folder with a
 * floor in pmat.config.json's CB-045 whose summary entry is missing or made from other source, i.e. what CB-045
 * reports stale; a floor that lists `files` limits its folder to them), writes a Stryker config for that target alone to reports/mutation/stryker-<slug>.json and
 * prints one line per target: `<target>\t<config>\t<tests>`, tests being mutation/tests.json's comma-separated list.
 * Per target: its own incremental file (mutation/incremental/<slug>.json, so a run of one folder keeps the
 * others' cached results), its own report, and type-check stripping (`// @ts-nocheck`) of its files only: Stryker
 * runs in place, and its default would rewrite every file under src/ and test/ in the shared working tree.
 *   usage: tsx scripts/mutation-plan.ts [--all | folder-or-file ...]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Summary {
  files: Record<string, { sha256: string }>;
}

const root = process.cwd();
const readJson = <T>(p: string): T => JSON.parse(readFileSync(join(root, p), 'utf8')) as T;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const slug = (target: string): string => target.replace(/\/+$/, '').replace(/[^A-Za-z0-9.-]+/g, '_');

/** Source files of a folder as CB-045 counts them (tracked or untracked-not-ignored .ts, no tests or .d.ts). */
function sourceFiles(target: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard', '--', target], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && existsSync(join(root, f)));
}

/** CB-045's floors: folder (or file) → the files it lists, or undefined when the whole folder is covered. */
function floors(): Map<string, string[] | undefined> {
  type Floors = Record<string, { files?: string[] }>;
  const config = readJson<{ checks?: Record<string, { thresholds?: { folders?: Floors } }> }>('pmat.config.json');
  return new Map(Object.entries(config.checks?.['CB-045']?.thresholds?.folders ?? {}).map(([k, v]) => [k, v.files]));
}

function staleTargets(): string[] {
  const summary: Summary = existsSync(join(root, 'mutation/summary.json')) ? readJson<Summary>('mutation/summary.json') : { files: {} };
  const current = (f: string): boolean => existsSync(join(root, f)) && summary.files[f]?.sha256 === sha256(readFileSync(join(root, f), 'utf8'));
  return [...floors()].filter(([folder, listed]) => !(listed ?? sourceFiles(folder)).every(current)).map(([folder]) => folder);
}

/** The tests listed for the target, or for the nearest folder above it; [] (every in-process test) if none. */
function testsFor(target: string): string[] {
  const map = readJson<{ folders: Record<string, string[]> }>('mutation/tests.json').folders;
  const key = Object.keys(map)
    .filter((k) => target === k || target.startsWith(`${k}/`))
    .sort((a, b) => b.length - a.length)[0];
  return key === undefined ? [] : (map[key] ?? []);
}

function plan(target: string): string {
  const t = target.replace(/\/+$/, '');
  const listed = floors().get(t);
  const isDir = existsSync(join(root, t)) && statSync(join(root, t)).isDirectory();
  const glob = listed ? (listed.length === 1 ? (listed[0] ?? t) : `{${listed.join(',')}}`) : isDir ? `${t}/**/*.ts` : t;
  const base = readJson<Record<string, unknown>>('stryker.config.json');
  const config = {
    ...base,
    mutate: [glob, '!**/*.d.ts'],
    disableTypeChecks: glob,
    incrementalFile: `mutation/incremental/${slug(t)}.json`,
    jsonReporter: { fileName: `reports/mutation/${slug(t)}.json` },
  };
  mkdirSync(join(root, 'reports/mutation'), { recursive: true });
  mkdirSync(join(root, 'mutation/incremental'), { recursive: true });
  const path = `reports/mutation/stryker-${slug(t)}.json`;
  writeFileSync(join(root, path), `${JSON.stringify(config, null, 2)}\n`);
  return `${t}\t${path}\t${testsFor(t).join(',')}`;
}

const args = process.argv.slice(2);
const targets = args.length === 0 ? staleTargets() : args[0] === '--all' ? [...floors().keys()] : args;
for (const t of targets) process.stdout.write(`${plan(t)}\n`);
