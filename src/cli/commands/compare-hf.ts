import type { Command } from 'commander';
import { type CompareHfResult, compareHf } from '../../ops/compare-hf.js';
import { EXIT } from '../exit-codes.js';
import { CliError, printJson, printTable } from '../output.js';
import { intOption } from '../program.js';

interface CompareHfFlags {
  hf?: string;
  prompts?: string;
  context?: number;
  chunks?: number;
  scoreFrom?: number;
  json?: boolean;
}

const g = (x: number, digits = 4): string => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(digits) : x.toExponential(2));

function printResult(r: CompareHfResult): void {
  const t = r.tensors;
  const dtypes = Object.entries(t.dtypes).map(([d, n]) => `${n} ${d}`).join(', ');
  process.stdout.write(`tensors: ${t.compared} compared after dequantization (${dtypes}); max |a-b| ${g(t.max_abs_diff)}, min cosine ${t.min_cosine.toFixed(6)}, relative error max ${g(t.max_rel_error)} / mean ${g(t.mean_rel_error)}\n`);
  if (t.only_in_model.length + t.only_in_hf.length + t.shape_mismatch.length > 0) {
    process.stdout.write(`mismatch: only in model ${t.only_in_model.length}, only in HF ${t.only_in_hf.length}, shape ${t.shape_mismatch.join(', ') || 0}\n`);
  }
  if (t.worst.length > 0 && t.max_rel_error > 0) printTable(['tensor', 'dtype', 'max |a-b|', 'cosine', 'rel error'], t.worst.map((w) => [w.name, w.dtype, g(w.max_abs_diff), w.cosine.toFixed(6), g(w.rel_error)]));
  const l = r.logits;
  process.stdout.write(`logits: ${l.windows} window(s), ${l.positions} positions; max |Δlogit| ${g(l.max_abs_logit_diff)}, top-1 agreement ${(100 * l.top1_agreement).toFixed(2)} %, mean KL(hf‖model) ${g(l.mean_kl, 6)} nats\n`);
  process.stdout.write(`perplexity: model ${l.ppl_model.toFixed(4)}, HF ${l.ppl_reference.toFixed(4)} over ${l.scored_tokens} tokens; gap ${l.ppl_gap_pct >= 0 ? '+' : ''}${l.ppl_gap_pct.toFixed(3)} %\n`);
  process.stdout.write(r.pass ? `PASS: gap within ±${r.max_gap_pct} %\n` : `FAIL: gap ${l.ppl_gap_pct.toFixed(3)} % beyond ±${r.max_gap_pct} % or tensor names/shapes disagree\n`);
}

export function registerCompareHf(program: Command): void {
  program
    .command('compare-hf')
    .description('parity against the Hugging Face source folder: per-tensor (dequantized) max |a-b|, cosine, relative error; logits max |Δ|, top-1 agreement, KL, perplexity gap (fails over 5 %)')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .option('--hf <dir>', 'the Hugging Face source folder (required)')
    .option('--prompts <file>', 'a .txt file (scored in windows of --context tokens) or JSON Lines / JSON array of prompts (default: three built-in code prompts)')
    .option('--context <n>', 'tokens per window (default 256)', intOption('--context'))
    .option('--chunks <n>', 'at most n windows of a .txt file (default 16)', intOption('--chunks'))
    .option('--score-from <n>', "score perplexity from position n of each window (default 1; llama.cpp's protocol: context/2 + 1)", intOption('--score-from'))
    .option('--json', 'print the result as JSON')
    .action((model: string, f: CompareHfFlags) => {
      if (!f.hf) throw new CliError('give --hf <dir>, the Hugging Face source folder');
      const context = f.context ?? 256;
      if (context < 2) throw new CliError(`--context must be ≥ 2, got ${context}`);
      if (f.chunks !== undefined && f.chunks < 1) throw new CliError(`--chunks must be ≥ 1, got ${f.chunks}`);
      if (f.scoreFrom !== undefined && (f.scoreFrom < 1 || f.scoreFrom >= context)) throw new CliError(`--score-from must be in [1, ${context}), got ${f.scoreFrom}`);
      const r = compareHf({ model, hf: f.hf, context, ...(f.prompts ? { prompts: f.prompts } : {}), ...(f.chunks !== undefined ? { chunks: f.chunks } : {}), ...(f.scoreFrom !== undefined ? { scoreFrom: f.scoreFrom } : {}) });
      if (f.json) printJson(r);
      else printResult(r);
      if (!r.pass) process.exitCode = EXIT.failed;
    });
}
