#!/usr/bin/env node
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { auditContract, auditText, diagnosticsText, diffContracts, diffContractSets, diffText, lintContracts, parseLevel, proofStatus, PvInputError, readBindings, readProofResults, readTestResults, recordProofResults, runProofs, statusText, toSarif, UnknownProofError, validateContracts, type Level, type ProofResult } from '../contract/pv/index.js';
import type { Diagnostic } from '../contract/yaml/diagnostic.js';
import { loadContractFile, loadContracts } from '../contract/yaml/load.js';
import type { ContractYaml } from '../contract/yaml/schema.js';
import { EXIT } from './exit-codes.js';
import { CliError, printJson } from './output.js';
import { createProgram, intOption, packageVersion, runProgram } from './program.js';

type Format = 'text' | 'json' | 'sarif';

function rootOf(program: Command): string {
  return resolve(program.opts<{ root?: string }>().root ?? '.');
}

function formatOption(choices: Format[]): Option {
  return new Option('--format <format>', 'output format').choices(choices).default('text');
}

function printDiagnostics(diags: readonly Diagnostic[], format: Format): void {
  if (format === 'json') printJson({ diagnostics: diags });
  else if (format === 'sarif') printJson(toSarif(diags, packageVersion()));
  else process.stdout.write(diagnosticsText(diags));
}

function contractsDir(root: string, dir: string | undefined): string {
  return dir === undefined ? join(root, 'contracts') : resolve(dir);
}

function registerChecks(program: Command): void {
  program
    .command('validate [dir]')
    .description('check every contract YAML against the schema (default dir: <root>/contracts)')
    .addOption(formatOption(['text', 'json', 'sarif']))
    .action((dir: string | undefined, opts: { format: Format }) => {
      const root = rootOf(program);
      const { diagnostics } = validateContracts({ root, dir: contractsDir(root, dir) });
      printDiagnostics(diagnostics, opts.format);
      if (diagnostics.some((d) => d.severity === 'error')) process.exitCode = EXIT.failed;
    });
  program
    .command('lint [dir]')
    .description('schema plus cross-checks with rule ids and severities (tests, proofs, tolerances, ids)')
    .addOption(formatOption(['text', 'json', 'sarif']))
    .option('--strict', 'warnings fail too')
    .action((dir: string | undefined, opts: { format: Format; strict?: boolean }) => {
      const root = rootOf(program);
      const diags = lintContracts({ root, dir: contractsDir(root, dir) });
      printDiagnostics(diags, opts.format);
      if (diags.some((d) => d.severity === 'error' || (opts.strict && d.severity === 'warning'))) process.exitCode = EXIT.failed;
    });
}

function proofLine(r: ProofResult): string {
  const cx = r.counterexample ? `  counterexample: ${Object.entries(r.counterexample).map(([k, v]) => `${k}=${v}`).join(' ')}` : '';
  const why = r.status !== 'proved' && r.reason ? `  (${r.reason})` : '';
  return `${r.status.padEnd(8)} ${r.id}  ${r.contract}/${r.obligation}  bound ${r.bound ?? '-'}  ${(r.wall_ms / 1000).toFixed(1)} s (cpu ${(r.cpu_ms / 1000).toFixed(1)} s)${why}${cx}`;
}

function registerProve(program: Command): void {
  program
    .command('prove [target]')
    .description('run the z3 harnesses in proofs/ (all, or one contract, obligation or proof id) and record the results')
    .option('--bound <n>', 'bound for bounded proofs (default: the YAML or harness bound)', intOption('--bound'))
    .option('--timeout <s>', 'limit of every single z3 query, seconds', intOption('--timeout'), 20)
    .option('--plant <bug>', 'inject a planted bug to show the proof can fail (results are not recorded)')
    .option('--no-record', 'do not write .pv/proof-results.json')
    .option('--json', 'print JSON')
    .action(async (target: string | undefined, opts: { bound?: number; timeout: number; plant?: string; record: boolean; json?: boolean }) => {
      if (opts.bound !== undefined && opts.bound < 1) throw new CliError('--bound must be at least 1');
      if (opts.timeout < 1) throw new CliError('--timeout must be at least 1 second');
      const root = rootOf(program);
      const contracts = projectContracts(root);
      let run;
      try {
        run = await runProofs({ root, target, bound: opts.bound, timeoutS: opts.timeout, plant: opts.plant, contracts, onResult: opts.json ? undefined : (r) => process.stdout.write(`${proofLine(r)}\n`) });
      } catch (err) {
        if (err instanceof UnknownProofError) throw new CliError(err.message);
        throw new CliError(`proofs/: ${err instanceof Error ? err.message : String(err)}`, EXIT.failed);
      }
      if (opts.plant === undefined && opts.record) facts(() => recordProofResults(root, run.results, run.z3Version));
      if (opts.json) printJson({ z3: run.z3Version, plant: opts.plant ?? null, results: run.results });
      else {
        const n = (s: string): number => run.results.filter((r) => r.status === s).length;
        const wall = run.results.reduce((a, r) => a + r.wall_ms, 0);
        process.stdout.write(`${run.results.length} proof(s): ${n('proved')} proved, ${n('refuted')} refuted, ${n('unknown')} unknown, ${n('error')} error, ${(wall / 1000).toFixed(1)} s (z3 ${run.z3Version})\n`);
      }
      const ok = opts.plant === undefined ? run.results.every((r) => r.status === 'proved') : run.results.every((r) => r.status === 'refuted');
      if (!ok) process.exitCode = EXIT.failed;
    });
}

function parseMinLevel(v: string): Level {
  const l = parseLevel(v);
  if (l === undefined) throw new InvalidArgumentError(`expected L0..L5, got '${v}'`);
  return l;
}

/** A malformed facts file (binding.json, .pv/*.json) is bad input: exit 3 with its one-line message. */
function facts<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof PvInputError) throw new CliError(err.message, EXIT.badInput);
    throw err;
  }
}

/** The project's contracts, or none when it has no contracts/ folder (prove and proof-status still run). */
function projectContracts(root: string) {
  const dir = join(root, 'contracts');
  return existsSync(dir) ? loadContracts(dir, root).contracts : [];
}

function statusReport(root: string) {
  const contracts = projectContracts(root);
  const report = facts(() => proofStatus({ root, contracts, bindings: readBindings(root), tests: readTestResults(root), proofs: readProofResults(root) }));
  return { contracts, report };
}

/** --ci: every obligation needs a passing tagged test in the recorded run, and no obligation a failing one. */
function ciGate(report: ReturnType<typeof statusReport>['report']): void {
  if (report.sources.tests === null) {
    process.stderr.write('pv: --ci: no test results recorded (.pv/test-results.json); run npm test first\n');
    process.exitCode = EXIT.failed;
    return;
  }
  const gaps = report.contracts.flatMap((c) => c.obligations.filter((o) => !o.tested).map((o) => `${c.id}/${o.id} (${o.tests.failed > 0 ? `${o.tests.failed} failed` : 'no passed test'})`));
  if (gaps.length === 0) return;
  process.stderr.write(`pv: --ci: ${gaps.length} obligation(s) without a passing test: ${gaps.join(', ')}\n`);
  process.exitCode = EXIT.failed;
}

function registerStatus(program: Command): void {
  program
    .command('proof-status')
    .description('per contract: level L0..L5 (DESIGN.md), obligations tested, proofs, bindings; totals over every exported op and kernel')
    .addOption(formatOption(['text', 'json']))
    .option('--min-level <level>', 'exit 1 when a contract is below this level (L1..L5)', parseMinLevel)
    .option('--ci', 'exit 1 unless the recorded suite results (.pv/test-results.json, written by npm test) give every obligation a passing test and none a failing one')
    .action((opts: { format: Format; minLevel?: Level; ci?: boolean }) => {
      const { report } = statusReport(rootOf(program));
      if (opts.format === 'json') printJson(report);
      else process.stdout.write(statusText(report));
      if (opts.ci) ciGate(report);
      const below = opts.minLevel === undefined ? [] : report.contracts.filter((c) => c.level < (opts.minLevel ?? 0));
      if (below.length > 0) {
        process.stderr.write(`pv: ${below.length} contract(s) below L${opts.minLevel}: ${below.map((c) => `${c.id} (L${c.level})`).join(', ')}\n`);
        process.exitCode = EXIT.failed;
      }
    });
  program
    .command('audit <contract>')
    .description('traceability of one contract: equation → obligations → tests and proofs → bound code')
    .addOption(formatOption(['text', 'json']))
    .action((id: string, opts: { format: Format }) => {
      const root = rootOf(program);
      const { contracts, report } = statusReport(root);
      const c = contracts.find((x) => x.id === id);
      const s = report.contracts.find((x) => x.id === id);
      if (!c || !s) throw new CliError(`no contract '${id}' in ${join(root, 'contracts')} (known: ${contracts.map((x) => x.id).join(', ') || 'none'})`);
      const a = facts(() => auditContract(c, s, readTestResults(root), readProofResults(root)));
      if (opts.format === 'json') printJson(a);
      else process.stdout.write(auditText(a));
    });
}

function loadSide(path: string): ContractYaml[] {
  const abs = resolve(path);
  if (statSync(abs).isDirectory()) {
    const r = loadContracts(abs, process.cwd());
    const first = r.problems[0];
    if (first) throw new CliError(`${first.file}${first.line ? `:${first.line}` : ''}: ${first.message}`, EXIT.badInput);
    return r.contracts.map((c) => c.doc);
  }
  const r = loadContractFile(abs, path);
  const first = r.problems[0];
  if (!r.contract || first) throw new CliError(`${path}${first?.line ? `:${first.line}` : ''}: ${first?.message ?? 'invalid contract'}`, EXIT.badInput);
  return [r.contract.doc];
}

function registerDiff(program: Command): void {
  program
    .command('diff <old> <new>')
    .description('added/removed/changed equations and obligations between two contract files (or folders), with the semver bump they need')
    .addOption(formatOption(['text', 'json']))
    .action((oldPath: string, newPath: string, opts: { format: Format }) => {
      const a = loadSide(oldPath);
      const b = loadSide(newPath);
      const diffs = a.length === 1 && b.length === 1 && !statSync(resolve(oldPath)).isDirectory() ? [diffContracts(a[0] as ContractYaml, b[0] as ContractYaml)] : diffContractSets(a, b);
      if (opts.format === 'json') printJson({ diffs });
      else process.stdout.write(diffText(diffs));
    });
}

const program = createProgram('pv', 'pv — contracts as YAML, z3 bounded proofs and an honest proof status');
program.option('-C, --root <dir>', 'project root (contracts/, proofs/, .pv/)', '.');
program.addHelpText('after', '\nExit codes: 0 ok, 1 lint errors / refuted or unknown proofs / a contract below --min-level, 2 bad usage, 3 bad input file.');
registerChecks(program);
registerProve(program);
registerStatus(program);
registerDiff(program);

const code = await runProgram('pv', program, process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`pv: error: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.internal;
});
process.exitCode = code;
// z3's WASM worker threads are stopped after `prove`; should anything still hold the event loop, do not hang.
setTimeout(() => process.exit(code), 3000).unref();
