import type { Command } from 'commander';
import { openModel } from '../../formats/open.js';
import { createSession } from '../../model/session.js';
import { benchThroughput, type BenchReport } from '../../ops/bench.js';
import { CliError, printJson, printTable } from '../output.js';
import { intOption } from '../program.js';
import { applyBackend, draftPMin, draftPMinOption } from './inference.js';

interface BenchFlags {
  promptTokens: number;
  genTokens: number;
  iterations: number;
  json?: boolean;
  speculative?: boolean;
  draftModel?: string;
  draftModelPath?: string;
  speculationK: number;
  draftPMin?: number;
  threads?: number;
  backend?: string;
  bandwidthBound: boolean;
}

function printReport(r: BenchReport): void {
  const s = r.results;
  const rows: (string | number)[][] = [
    ['prefill tok/s', s.prefill_tokens_per_second.toFixed(1)],
    ['decode tok/s', s.tokens_per_second.toFixed(1)],
    ['time to first token (ms)', s.time_to_first_token_ms.toFixed(1)],
    ['peak RSS (MB)', s.peak_rss_mb.toFixed(1)],
    ['backend', r.backend],
  ];
  const b = s.decode_bound;
  if (b) {
    rows.push(
      ['weights read per token (MiB)', b.weight_mib_per_token.toFixed(0)],
      [`read bandwidth, ${b.threads} thread(s) (GB/s)`, b.read_gb_per_second.toFixed(1)],
      ['decode bound (tok/s)', b.bound_tokens_per_second.toFixed(1)],
      ['decode / bound', `${(100 * b.fraction).toFixed(0)} %`],
    );
  }
  if (s.speculative) {
    rows.push(
      [`apr run tok/s (${JSON.stringify(r.config.speculative_prompt ?? '')})`, s.speculative.plain_tokens_per_second.toFixed(1)],
      [`apr run --speculative tok/s (k=${r.config.speculation_k ?? ''})`, s.speculative.tokens_per_second.toFixed(1)],
      ['speculative speed-up', `${s.speculative.speedup.toFixed(2)}x (CPU time ${s.speculative.cpu_speedup.toFixed(2)}x)`],
      ['acceptance rate', s.speculative.acceptance_rate.toFixed(3)],
      ['tokens per target pass', s.speculative.tokens_per_round.toFixed(2)],
      ['output identical to plain', String(s.speculative.outputs_identical)],
    );
  }
  printTable(['metric', 'value'], rows);
}

function benchAction(model: string, f: BenchFlags): void {
  const draftPath = f.draftModel ?? f.draftModelPath;
  if (f.speculative && !draftPath) throw new CliError('--speculative needs --draft-model <path>');
  if (f.speculationK < 1) throw new CliError(`--speculation-k must be ≥ 1, got ${f.speculationK}`);
  for (const [flag, v] of [['--prompt-tokens', f.promptTokens], ['--gen-tokens', f.genTokens], ['--iterations', f.iterations]] as const) {
    if (v < 1) throw new CliError(`${flag} must be ≥ 1, got ${v}`);
  }
  applyBackend(f);
  const bundle = openModel(model, { verifyFooter: true });
  const session = createSession(bundle, f.threads !== undefined ? { threads: f.threads } : {});
  const draft = f.speculative && draftPath ? createSession(openModel(draftPath, { verifyFooter: true })) : undefined;
  const report = benchThroughput(session, model, {
    promptTokens: f.promptTokens,
    genTokens: f.genTokens,
    iterations: f.iterations,
    ...(f.bandwidthBound ? { bundle } : {}),
    ...(draft ? { speculative: { draft, k: f.speculationK, ...draftPMin(f) } } : {}),
  });
  if (f.json) printJson(report);
  else printReport(report);
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('throughput: prefill and decode tokens/s, time to first token, peak memory, the memory-bandwidth bound on decode (optionally speculative vs plain)')
    .argument('<model>', 'model file or folder')
    .option('--prompt-tokens <n>', 'prompt length in tokens', intOption('--prompt-tokens'), 128)
    .option('--gen-tokens <n>', 'tokens to generate per iteration', intOption('--gen-tokens'), 128)
    .option('--iterations <n>', 'timed iterations (results are medians)', intOption('--iterations'), 5)
    .option('--speculative', 'also time greedy speculative decoding with --draft-model')
    .option('--draft-model <path>', 'draft model for --speculative (same tokenizer)')
    .option('--draft-model-path <path>', 'alias of --draft-model')
    .option('--speculation-k <n>', 'most draft tokens per verification pass', intOption('--speculation-k'), 4)
    .option('--draft-p-min <p>', 'the draft stops proposing below this top-token probability (default: 0 greedy, where the draft length adapts to measured costs; 0.75 sampling)', draftPMinOption)
    .option('--threads <n>', 'CPU threads for matrix products (default: APR_THREADS, else min(cores, 8))', intOption('--threads'))
    .option('--backend <kind>', 'compute backend: auto (WebGPU if it passes the parity gate, else cpu), webgpu or cpu (default cpu)')
    .option('--no-bandwidth-bound', 'skip the memory-bandwidth bound on decode (CPU backends: weights read per token ÷ the read bandwidth measured with 256 MiB buffers per thread)')
    .option('--json', 'print {benchmark, model, backend, config, results, iterations}')
    .action((model: string, f: BenchFlags) => benchAction(model, f));
}
