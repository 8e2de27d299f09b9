/** The `apr` command line: every verb registered on one commander program (apr.ts runs it; tests may run it in process). */
import type { Command } from 'commander';
import { registerAlign } from './commands/align.js';
import { registerCheck } from './commands/check.js';
import { registerCompareHf } from './commands/compare-hf.js';
import { registerQa } from './commands/qa.js';
import { registerDistill } from './commands/distill.js';
import { registerFinetune } from './commands/finetune.js';
import { registerImatrix } from './commands/imatrix.js';
import { registerCompile } from './commands/compile.js';
import { registerData } from './commands/data.js';
import { registerBench } from './commands/bench.js';
import { registerInference } from './commands/inference.js';
import { registerMergePrune } from './commands/merge-prune.js';
import { registerModelIo } from './commands/model-io.js';
import { registerPassAtK } from './commands/pass-at-k.js';
import { registerPipeline } from './commands/pipeline.js';
import { registerPublish } from './commands/publish.js';
import { registerQuantize } from './commands/quantize.js';
import { registerServe } from './commands/serve.js';
import { registerTune } from './commands/tune.js';
import { createProgram } from './program.js';

/** A fresh `apr` program with every verb (a commander program is parsed once: make one per run). */
export function createAprProgram(): Command {
  const program = createProgram('apr', 'apr — LLM weights toolkit with mathematical contracts (import, inspect, check, run, eval, quantize, merge, finetune)');
  program.addHelpText('after', `
Exit codes: 0 ok, 1 a check/evaluation failed, 2 bad usage, 3 bad input file, 4 contract violation.
Environment: APR_CONTRACTS=off|pre|full (default pre) controls run-time contract checks.`);
  registerModelIo(program);
  registerCheck(program);
  registerQa(program);
  registerCompareHf(program);
  registerInference(program);
  registerServe(program);
  registerBench(program);
  registerMergePrune(program);
  registerPassAtK(program);
  registerQuantize(program);
  registerImatrix(program);
  registerDistill(program);
  registerAlign(program);
  registerCompile(program);
  registerFinetune(program);
  registerData(program);
  registerPipeline(program);
  registerPublish(program);
  registerTune(program);
  return program;
}
