#!/usr/bin/env node
import { Option } from 'commander';
import { ConfigError } from '../../gates/lib/config.js';
import { formatJson, formatSarif, formatText } from '../../gates/lib/report.js';
import { exitCode } from '../../gates/lib/runner.js';
import { CHECKS, runCompliance, UnknownCheckError } from '../../gates/registry.js';
import { EXIT } from './exit-codes.js';
import { CliError, printTable } from './output.js';
import { createProgram, packageVersion, runProgram } from './program.js';

interface CheckOptions {
  path: string;
  strict?: boolean;
  format: 'text' | 'json' | 'sarif';
  failuresOnly?: boolean;
  skipSlow?: boolean;
  only?: string;
  cache: boolean;
  config?: string;
}

async function check(opts: CheckOptions): Promise<void> {
  const only = opts.only?.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s.length > 0);
  let report;
  try {
    report = await runCompliance(opts.path, { strict: opts.strict, skipSlow: opts.skipSlow, cache: opts.cache, only, configFile: opts.config });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, EXIT.badInput);
    if (e instanceof UnknownCheckError) throw new CliError(e.message, EXIT.usage);
    throw e;
  }
  const fmt = { failuresOnly: opts.failuresOnly };
  const text = opts.format === 'json' ? formatJson(report, fmt) : opts.format === 'sarif' ? formatSarif(report, packageVersion(), fmt) : formatText(report, fmt);
  process.stdout.write(text);
  process.exitCode = exitCode(report, opts.strict ?? false);
}

const program = createProgram('pmat', 'pmat — quality gates for TypeScript projects');
program.addHelpText('after', `
Exit codes: 0 compliant, 1 a check failed, 2 only warnings with --strict (also bad usage), 3 invalid pmat.config.json.`);

const comply = program.command('comply').description('compliance checks (pmat comply check --strict is the pre-merge gate)');
comply
  .command('check')
  .description(`run the ${CHECKS.length} quality checks over a project`)
  .option('--path <dir>', 'project root', '.')
  .option('--strict', 'warnings make the project non-compliant (exit 2)')
  .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'))
  .option('--failures-only', 'list only the checks that warn or fail')
  .option('--skip-slow', 'do not run tsc, eslint, vitest or pv; reuse results of an identical tree or fresh reports')
  .option('--only <ids>', 'comma-separated check ids, e.g. CB-009,CB-011')
  .option('--no-cache', 'neither reuse nor store tool results (node_modules/.cache/pmat)')
  .option('--config <file>', 'config file (default: <path>/pmat.config.json)')
  .action(check);
comply
  .command('list')
  .description('list the checks with their ids and default severities')
  .action(() => printTable(['id', 'name', 'severity', 'description'], CHECKS.map((c) => [c.id, c.name, c.severity, c.description])));

process.exitCode = await runProgram('pmat', program, process.argv.slice(2));
