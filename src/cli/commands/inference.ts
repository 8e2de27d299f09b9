import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type Command, InvalidArgumentError } from 'commander';
import { FormatError } from '../../formats/errors.js';
import { openModel } from '../../formats/open.js';
import { PromptTooLongError } from '../../model/generate.js';
import { type Session, createSession } from '../../model/session.js';
import { runBatch } from '../../ops/batch.js';
import { type RunOptions, type RunResult, runPrompt } from '../../ops/generate.js';
import { runSpeculative } from '../../ops/speculative.js';
import { evalPerplexity } from '../../ops/perplexity.js';
import { tokenizeText } from '../../ops/tokenize.js';
import { evaluateCode } from '../../ops/eval-code.js';
import { readCodeProblems, readCompletionSamples } from '../../eval/code/index.js';
import { modelCompletionSource } from '../../eval/code/model-source.js';
import { type ChatMessage, loadTokenizer } from '../../tokenizer/index.js';
import { EXIT } from '../exit-codes.js';
import { CliError, oneOf, printJson, printTable, warn } from '../output.js';
import { floatOption, intOption } from '../program.js';
import { addBatchFlags, type BatchFlags, engineOptions, usageError } from './batch-flags.js';
import { addLoraFlag, withLoraFlags } from './adapter.js';
import type { AdapterSpec } from '../../ops/adapter.js';

interface SamplingFlags {
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  seed?: number;
}

function addSamplingFlags(cmd: Command): Command {
  return cmd
    .option('-n, --max-tokens <n>', 'most tokens to generate', intOption('--max-tokens'), 128)
    .option('-t, --temperature <t>', 'sampling temperature; 0 = greedy (deterministic)', floatOption('--temperature'), 0)
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', intOption('--top-k'))
    .option('--top-p <p>', 'nucleus sampling: keep the smallest set with probability ≥ p', floatOption('--top-p'))
    .option('--min-p <p>', 'drop tokens below p × the top probability', floatOption('--min-p'))
    .option('--repeat-penalty <r>', 'repetition penalty (1 = off)', floatOption('--repeat-penalty'))
    .option('--seed <n>', 'random seed (same seed, same output)', intOption('--seed'))
    .option('--threads <n>', 'CPU threads for matrix products (sets APR_THREADS; default min(cores, 8))', intOption('--threads'))
    .option('--backend <kind>', 'compute backend: auto (WebGPU if it passes the parity gate, else cpu), webgpu or cpu (sets APR_BACKEND; default cpu)')
    .hook('preAction', (c) => applyThreads(c.opts()))
    .hook('preAction', (c) => applyBackend(c.opts()));
}

/** `--backend K` is APR_BACKEND=K for every session this command creates (src/model/session.ts reads it). */
export function applyBackend(opts: { backend?: string }): void {
  if (opts.backend === undefined) return;
  if (!['auto', 'webgpu', 'cpu'].includes(opts.backend)) throw new CliError(`--backend must be auto, webgpu or cpu, got '${opts.backend}'`);
  process.env['APR_BACKEND'] = opts.backend;
}

/** `--threads N` is APR_THREADS=N for the backend every session of this command creates. */
function applyThreads(opts: { threads?: number }): void {
  if (opts.threads === undefined) return;
  if (opts.threads < 1) throw new CliError(`--threads must be ≥ 1, got ${opts.threads}`);
  process.env['APR_THREADS'] = String(opts.threads);
}

function samplingOptions(f: SamplingFlags, prompt: string): RunOptions {
  return {
    prompt,
    maxTokens: f.maxTokens,
    temperature: f.temperature,
    ...(f.topK !== undefined ? { topK: f.topK } : {}),
    ...(f.topP !== undefined ? { topP: f.topP } : {}),
    ...(f.minP !== undefined ? { minP: f.minP } : {}),
    ...(f.repeatPenalty !== undefined ? { repetitionPenalty: f.repeatPenalty } : {}),
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
    onWarning: warn,
  };
}

const CONTEXT_HELP = `
Context: prompt + generated tokens must fit the model's context (max_position_embeddings), as in llama.cpp.
A prompt that leaves no room is an error, "prompt is too long" (exit 2, nothing generated; apr chat skips
that turn and goes on); when prompt + --max-tokens would run past the context, one warning is printed and
generation stops at the context.`;

function load(path: string, loras?: readonly AdapterSpec[]): Session {
  return createSession(withLoraFlags(openModel(path, { verifyFooter: true }), loras));
}

function readTextInput(path: string, field: string): string {
  if (!existsSync(path)) throw new FormatError(path, field, 'no such file');
  return readFileSync(path, 'utf8');
}

interface RunFlags extends SamplingFlags, BatchFlags {
  prompt?: string;
  chat?: boolean;
  system?: string;
  json?: boolean;
  stream?: boolean;
  batchJsonl?: string;
  speculative?: boolean;
  draftModel?: string;
  draftModelPath?: string;
  speculationK: number;
  draftPMin?: number;
  verbose?: boolean;
  lora?: AdapterSpec[];
}

/** Parses --draft-p-min: a probability in [0, 1]. */
export function draftPMinOption(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`--draft-p-min must be a number in [0, 1], got '${value}'`);
  return n;
}

/** `{ draftPMin }` when the flag was given. */
export function draftPMin(f: { draftPMin?: number }): { draftPMin?: number } {
  return f.draftPMin !== undefined ? { draftPMin: f.draftPMin } : {};
}

function speculativeAction(model: string, prompt: string, f: RunFlags): void {
  const draftPath = f.draftModel ?? f.draftModelPath;
  if (!draftPath) throw new CliError('--speculative needs --draft-model <path>');
  if (f.speculationK < 1) throw new CliError(`--speculation-k must be ≥ 1, got ${f.speculationK}`);
  const session = load(model, f.lora);
  const draft = load(draftPath);
  const stream = f.stream && !f.json;
  const opts = { ...samplingOptions(f, prompt), speculationK: f.speculationK, ...draftPMin(f), ...(f.chat ? { chat: true } : {}), ...(f.system !== undefined ? { system: f.system, chat: true } : {}) };
  const r = runSpeculative(session, draft, opts, stream ? (t) => process.stdout.write(t) : undefined);
  if (f.json) printJson({ model, prompt, ...r, backend: session.model.backend, load_ms: session.loadMs + draft.loadMs });
  else if (stream) process.stdout.write('\n');
  else process.stdout.write(`${f.chat || f.system !== undefined ? '' : prompt}${r.text}\n`);
  if (!f.json) process.stderr.write(`[${r.tokens_generated} tokens, ${r.tok_per_sec.toFixed(1)} tok/s decode, speculative k=${r.speculation_k}, acceptance ${(100 * r.acceptance_rate).toFixed(1)}%${f.verbose ? `, ${r.accepted_tokens}/${r.drafted_tokens} draft tokens accepted in ${r.verification_rounds} target passes (${r.tokens_per_round.toFixed(2)} tokens/pass), draft ${r.draft_model}` : ''}, ${session.model.backend}]\n`);
}

/** `--batch-jsonl`: every line through the batched decoder; results printed in input order as they complete. */
async function batchAction(model: string, file: string, f: RunFlags): Promise<void> {
  const lines = readTextInput(file, '--batch-jsonl').split('\n');
  const engine = engineOptions(f);
  const session = load(model, f.lora);
  const results = await runBatch(session, lines, samplingOptions(f, ''), file, (r) => process.stdout.write(`${JSON.stringify(r)}\n`), engine).catch(usageError);
  if (results.some((r) => r.error)) process.exitCode = EXIT.failed;
}

function runAction(model: string, positional: string | undefined, f: RunFlags): void | Promise<void> {
  if (f.batchJsonl) return batchAction(model, f.batchJsonl, f);
  const prompt = f.prompt ?? positional;
  if (prompt === undefined) throw new CliError('give a prompt (positional or --prompt) or --batch-jsonl');
  if (f.speculative) return speculativeAction(model, prompt, f);
  const session = load(model, f.lora);
  const stream = f.stream && !f.json;
  const r = runPrompt(session, { ...samplingOptions(f, prompt), ...(f.chat ? { chat: true } : {}), ...(f.system !== undefined ? { system: f.system, chat: true } : {}) }, stream ? (t) => process.stdout.write(t) : undefined);
  if (f.json) printJson({ model, prompt, ...r, backend: session.model.backend, load_ms: session.loadMs });
  else if (stream) process.stdout.write('\n');
  else process.stdout.write(`${f.chat || f.system !== undefined ? '' : prompt}${r.text}\n`);
  if (!f.json) process.stderr.write(`[${r.tokens_generated} tokens, ${r.tok_per_sec.toFixed(1)} tok/s decode, ${r.prefill_tok_per_sec.toFixed(1)} tok/s prefill, ${session.model.backend}]\n`);
}

type ChatFlags = SamplingFlags & { system?: string; batch?: boolean; json?: boolean; lora?: AdapterSpec[] };

/** A turn whose prompt (history included) does not fit the context: one error line, the chat goes on, exit 2 at the end. */
function skipTurn(f: ChatFlags, text: string, err: PromptTooLongError): void {
  const message = `prompt is too long: ${err.promptTokens} tokens, the model's context is ${err.contextLength} tokens; turn skipped (history included; /reset clears it)`;
  process.stderr.write(`apr: error: ${message}\n`);
  if (f.json) process.stdout.write(`${JSON.stringify({ user: text, error: message })}\n`);
  process.exitCode = EXIT.usage;
}

/** One user turn: generate the reply (streamed unless --json), print it and add both to the history. */
function chatTurn(session: Session, f: ChatFlags, history: ChatMessage[], text: string): void {
  let r: RunResult;
  try {
    r = runPrompt(session, { ...samplingOptions(f, text), chat: true, history, ...(f.system !== undefined ? { system: f.system } : {}) }, f.json ? undefined : (t) => process.stdout.write(t));
  } catch (err) {
    if (err instanceof PromptTooLongError) return skipTurn(f, text, err);
    throw err;
  }
  if (f.json) process.stdout.write(`${JSON.stringify({ user: text, assistant: r.text, tokens_generated: r.tokens_generated, tok_per_sec: r.tok_per_sec })}\n`);
  else process.stdout.write('\n');
  history.push({ role: 'user', content: text }, { role: 'assistant', content: r.text });
}

async function chatAction(model: string, f: ChatFlags): Promise<void> {
  const session = load(model, f.lora);
  const history: ChatMessage[] = [];
  const interactive = !f.batch && process.stdin.isTTY;
  const rl = createInterface({ input: process.stdin, ...(interactive ? { output: process.stderr, prompt: '> ' } : {}), terminal: interactive });
  if (interactive) {
    process.stderr.write(`apr chat — ${model} (${session.model.backend}). Type /exit to quit, /reset to clear history.\n`);
    rl.prompt();
  }
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit' || text === '/quit') break;
    if (text === '/reset') history.length = 0;
    else if (text) chatTurn(session, f, history, text);
    if (interactive) rl.prompt();
  }
  rl.close();
}

interface EvalFlags extends BatchFlags {
  dataset?: string;
  context: number;
  chunks?: number;
  stride?: number;
  threshold?: number;
  data?: string;
  samples?: string;
  nSamples: number;
  k: number[];
  rerank: string;
  promptStrategy: string;
  exemplars?: string;
  temperature: number;
  topP: number;
  seed: number;
  maxTokens: number;
  timeout: string;
  workers: number;
  outputCompletions?: string;
  exportPairs?: string;
  json?: boolean;
}

function evalPplAction(model: string | undefined, f: EvalFlags): void {
  if (!f.dataset) throw new CliError('give --dataset <text file> (perplexity) or --data <problems.jsonl> (code benchmark)');
  if (!model) throw new CliError('perplexity needs a model');
  const text = readTextInput(f.dataset, '--dataset');
  const session = load(model);
  const trained = session.model.config.max_position_embeddings;
  if (f.context > trained) warn(`--context ${f.context} exceeds the model's context of ${trained} tokens; positions past ${trained} were never trained and the perplexity will be worse`);
  const r = evalPerplexity(session, f.dataset, text, { context: f.context, ...(f.chunks !== undefined ? { chunks: f.chunks } : {}), ...(f.stride !== undefined ? { stride: f.stride } : {}) });
  const passed = f.threshold === undefined || r.perplexity <= f.threshold;
  if (f.json) printJson({ model, ...r, ...(f.threshold !== undefined ? { threshold: f.threshold, passed } : {}) });
  else printTable(['model', 'perplexity', 'mean_nll', 'tokens', 'chunks', 'context'], [[model, r.perplexity.toFixed(4), r.mean_nll.toFixed(6), r.tokens, r.chunks, r.context]]);
  if (!passed) process.exitCode = EXIT.failed;
}

function seconds(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim());
  if (!m) throw new CliError(`--timeout must look like 10s or 500ms, got '${value}'`);
  return m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
}

async function evalCodeAction(model: string | undefined, f: EvalFlags): Promise<void> {
  const problems = readCodeProblems(f.data ?? '');
  const rerank = oneOf('--rerank', f.rerank, ['none', 'logprob', 'majority', 'execution'] as const);
  const common = {
    problems,
    benchmark: f.data ?? '',
    ks: f.k,
    rerank,
    promptStrategy: oneOf('--prompt-strategy', f.promptStrategy, ['standard', 'scot', 'few-shot'] as const),
    ...(f.exemplars ? { exemplars: readCodeProblems(f.exemplars) } : {}),
    timeoutMs: seconds(f.timeout),
    workers: f.workers,
    temperature: f.temperature,
    topP: f.topP,
    seed: f.seed,
    ...(f.exportPairs ? { exportPairs: f.exportPairs } : {}),
    ...(f.outputCompletions ? { outputCompletions: f.outputCompletions } : {}),
  };
  let report;
  if (f.samples) {
    // logprob reranking needs every sample's mean_logprob: a file without them is bad input (exit 3)
    const samples = readCompletionSamples(f.samples, problems, { requireLogprob: rerank === 'logprob' });
    report = await evaluateCode({ ...common, model: model ?? null, samples });
  } else {
    if (!model) throw new CliError('give a model, or --samples completions.jsonl to score completions made elsewhere');
    const session = load(model);
    report = await evaluateCode({ ...common, model, nSamples: f.nSamples, source: modelCompletionSource(session, f.maxTokens, engineOptions(f)) }).catch(usageError);
  }
  if (f.json) return printJson(report);
  const r = report.results;
  const ks = Object.entries(r.pass_at_k).filter(([k]) => k !== '1');
  printTable(['benchmark', 'problems', 'solved', 'pass@1', ...ks.map(([k]) => `pass@${k}`), 'reranked pass@1'], [[
    report.benchmark, r.total, r.passed, r.pass_at_1.toFixed(4), ...ks.map(([, v]) => v.toFixed(4)), r.reranked_pass_at_1 === null ? '-' : r.reranked_pass_at_1.toFixed(4),
  ]]);
}

export function registerInference(program: Command): void {
  const run = addSamplingFlags(
    program
      .command('run')
      .description('generate text with a model (.apr, .gguf, HF folder); greedy unless --temperature > 0')
      .argument('<model>', 'model file or folder')
      .argument('[prompt]', 'the prompt (or --prompt)'),
  );
  addLoraFlag(addBatchFlags(run, '--batch-jsonl'))
    .option('-p, --prompt <text>', 'the prompt')
    .option('--chat', "wrap the prompt in the model's chat template")
    .option('--system <text>', 'system prompt (implies --chat)')
    .option('--stream', 'print tokens as they are generated')
    .option('--batch-jsonl <file>', 'one JSON object per line ({prompt|messages, task_id|custom_id, max_tokens, ...}); one JSON result per line, in order, each printed once it and all before it are done')
    .option('--json', 'print {text, token_ids, tokens_generated, tok_per_sec, ...}')
    .option('--speculative', 'speculative decoding with --draft-model (same output distribution; greedy output unchanged)')
    .option('--draft-model <path>', 'draft model for --speculative (must share the tokenizer)')
    .option('--draft-model-path <path>', 'alias of --draft-model')
    .option('--speculation-k <n>', 'most draft tokens proposed per verification pass', intOption('--speculation-k'), 4)
    .option('--draft-p-min <p>', 'the draft stops proposing below this top-token probability (default: 0 greedy, where the draft length adapts to measured costs; 0.75 sampling)', draftPMinOption)
    .option('--verbose', 'print speculative statistics on stderr')
    .addHelpText('after', CONTEXT_HELP)
    .action((model: string, prompt: string | undefined, f: RunFlags) => runAction(model, prompt, f));
  registerChat(program);
  registerEval(program);
  registerTokenize(program);
}

function registerChat(program: Command): void {
  addLoraFlag(addSamplingFlags(program.command('chat').description('interactive chat with history (reads stdin; --batch for scripts)').argument('<model>', 'model file or folder')))
    .option('--system <text>', 'system prompt')
    .option('--batch', 'read one user turn per stdin line, no prompt')
    .option('--json', 'print one JSON line per turn ({user, assistant, ...}, or {user, error} for a skipped turn)')
    .addHelpText('after', CONTEXT_HELP)
    .action((model: string, f: ChatFlags) => chatAction(model, f));
}

function registerEval(program: Command): void {
  addBatchFlags(program.command('eval'), 'code')
    .description('perplexity over a text file (--dataset), or a code benchmark with sandboxed execution and pass@k (--data)')
    .argument('[model]', 'model file or folder (not needed with --samples)')
    .option('--dataset <file>', 'perplexity: UTF-8 text file')
    .option('--context <n>', "perplexity: tokens per window (a warning when above the model's context)", intOption('--context'), 256)
    .option('--chunks <n>', 'perplexity: score at most n windows (--context 256 --chunks 32 is the fixtures protocol)', intOption('--chunks'))
    .option('--stride <n>', 'perplexity: sliding windows every n tokens (transformers-style)', intOption('--stride'))
    .option('--threshold <ppl>', 'perplexity: exit 1 when above this', floatOption('--threshold'))
    .option('--data <problems.jsonl>', 'code: HumanEval- or MBPP-format problems')
    .option('--samples <completions.jsonl>', 'code: score {task_id, completion} lines made elsewhere (no model)')
    .option('--n-samples <n>', 'code: completions per problem', intOption('--n-samples'), 1)
    .option('--k <list>', 'code: pass@k budgets, comma-separated', (v: string) => v.split(',').map((x) => intOption('--k')(x.trim())), [1])
    .option('--rerank <how>', 'code: none | logprob (needs mean_logprob on every --samples line) | majority | execution', 'none')
    .option('--prompt-strategy <s>', 'code: standard | scot | few-shot', 'standard')
    .option('--exemplars <file>', 'code: few-shot exemplars (problems JSONL)')
    .option('--temperature <t>', 'code: sampling temperature', floatOption('--temperature'), 0.8)
    .option('--top-p <p>', 'code: nucleus sampling', floatOption('--top-p'), 0.95)
    .option('--seed <n>', 'code: seed of the first sample (sample i uses seed + i)', intOption('--seed'), 0)
    .option('--max-tokens <n>', 'code: most tokens per completion', intOption('--max-tokens'), 256)
    .option('--timeout <s>', 'code: wall-clock limit per sample, e.g. 10s', '10s')
    .option('--workers <n>', 'code: parallel sandboxes', intOption('--workers'), 2)
    .option('--output-completions <dir>', 'code: write completions.jsonl here')
    .option('--export-pairs <file>', 'code: write DPO pairs (passing vs failing) as JSONL')
    .option('--json', 'print JSON')
    .action((model: string | undefined, f: EvalFlags) => (f.data ? evalCodeAction(model, f) : evalPplAction(model, f)));
}

function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description("ids and tokens of a text under a model's tokenizer")
    .argument('<model>', 'model file or folder')
    .argument('<text>', 'text to tokenize')
    .option('--json', 'print JSON')
    .action((model: string, text: string, f: { json?: boolean }) => {
      const bundle = openModel(model, { verifyFooter: false });
      bundle.tensors.close();
      if (!bundle.tokenizer) throw new FormatError(model, 'tokenizer', 'the model carries no tokenizer');
      const r = tokenizeText(loadTokenizer(bundle.tokenizer, { source: `${model}: tokenizer`, modelConfig: bundle.config }), text);
      if (f.json) printJson(r);
      else printTable(['id', 'token'], r.ids.map((id, i) => [id, JSON.stringify(r.tokens[i] ?? '')]));
    });
}
