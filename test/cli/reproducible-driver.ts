/**
 * Runs apr verbs one after another in this process, each as `apr <args>` through the real command-line
 * program (the one src/cli/apr.ts runs), so that a whole series pays Node's and tsx's start-up once:
 *
 *   node --import tsx test/cli/reproducible-driver.ts steps.json results.json
 *
 * The caller picks the process's cwd, TZ and TMPDIR. A step may set environment variables for its own
 * duration. Writes `{ [step name]: { code, seconds } }` to results.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createAprProgram } from '../../src/cli/apr-program.js';
import { runProgram } from '../../src/cli/program.js';

export interface DriverStep {
  name: string;
  args: string[];
  env?: Record<string, string>;
}

export type DriverResults = Record<string, { code: number; seconds: number }>;

async function runStep(step: DriverStep): Promise<{ code: number; seconds: number }> {
  const env = step.env ?? {};
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  process.exitCode = undefined;
  const t0 = performance.now();
  try {
    process.stderr.write(`[driver] apr ${step.args.join(' ')}\n`);
    return { code: await runProgram('apr', createAprProgram(), step.args), seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const [stepsFile, resultsFile] = process.argv.slice(2);
if (stepsFile === undefined || resultsFile === undefined) throw new Error('usage: reproducible-driver.ts steps.json results.json');
const results: DriverResults = {};
for (const step of JSON.parse(readFileSync(stepsFile, 'utf8')) as DriverStep[]) results[step.name] = await runStep(step);
writeFileSync(resultsFile, JSON.stringify(results));
process.exitCode = 0;
