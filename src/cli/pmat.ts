#!/usr/bin/env node
import { Option } from 'commander';
import { EXIT } from './exit-codes.js';
import { CliError, printTable } from './output.js';
import { createProgram, packageVersion, runProgram } from './program.js';

interface CheckOptions {
  path: string;
  strict?: boolean;
  format: 'text' | 'json' | 'sarif';
  failuresOnly?: boolean;
  skipSlow?: boolean;
  reuseResults?: boolean;
  only?: string;
  cache: boolean;
  config?: string;
}

// The gates (ts-morph, zod schemas) load only when a command needs them, so --help stays fast.
async function check(opts: CheckOptions): Promise<void> {
  const [{ runCompliance, UnknownCheckError }, { ConfigError }, report, { exitCode }] = await Promise.all([
    import('../../gates/registry.js'),
    import('../../gates/lib/config.js'),
    import('../../gates/lib/report.js'),
    import('../../gates/lib/runner.js'),
  ]);
  const only = opts.only?.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s.length > 0);
  let result;
  try {
    result = await runCompliance(opts.path, { strict: opts.strict, skipSlow: opts.skipSlow, reuseResults: opts.reuseResults, cache: opts.cache, only, configFile: opts.config });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, EXIT.badInput);
    if (e instanceof UnknownCheckError) throw new CliError(e.message, EXIT.usage);
    throw e;
  }
  const fmt = { failuresOnly: opts.failuresOnly };
  if (opts.format === 'json') process.stdout.write(report.formatJson(result, fmt));
  else if (opts.format === 'sarif') process.stdout.write(report.formatSarif(result, packageVersion(), fmt));
  else process.stdout.write(report.formatText(result, fmt));
  process.exitCode = exitCode(result, opts.strict ?? false);
}

async function list(): Promise<void> {
  const { CHECKS } = await import('../../gates/registry.js');
  printTable(['id', 'name', 'severity', 'description'], CHECKS.map((c) => [c.id, c.name, c.severity, c.description]));
}

const program = createProgram('pmat', 'pmat — quality gates for TypeScript projects');
program.addHelpText('after', `
Exit codes: 0 compliant, 1 a check failed, 2 only warnings with --strict (also bad usage), 3 invalid pmat.config.json.`);

const comply = program.command('comply').description('compliance checks (pmat comply check --strict is the pre-merge gate)');
comply
  .command('check')
  .description('run the quality checks (CB-001 ...) over a project; `pmat comply list` names them')
  .option('--path <dir>', 'project root', '.')
  .option('--strict', 'warnings make the project non-compliant (exit 2)')
  .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'))
  .option('--failures-only', 'list only the checks that warn or fail')
  .option('--skip-slow', 'do not run tsc, eslint, vitest or pv; reuse results of an identical tree or fresh reports')
  .option('--reuse-results', 'do not run the test suite: read the vitest JSON report and coverage summary that a full `vitest run --coverage` just wrote (CI)')
  .option('--only <ids>', 'comma-separated check ids, e.g. CB-009,CB-011')
  .option('--no-cache', 'neither reuse nor store tool results (node_modules/.cache/pmat)')
  .option('--config <file>', 'config file (default: <path>/pmat.config.json)')
  .action(check);
comply.command('list').description('list the checks with their ids and default severities').action(list);

process.exitCode = await runProgram('pmat', program, process.argv.slice(2));
