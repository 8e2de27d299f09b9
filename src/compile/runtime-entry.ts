/**
 * The program inside an executable made by `apr compile`: bundled by esbuild into one CommonJS file and run
 * by the Node runtime the executable carries. It reads the embedded APR file and reuses the ops of `apr run`,
 * `apr chat` and `apr check`.
 */
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { EXIT } from '../cli/exit-codes.js';
import { printJson, printTable, reportError } from '../cli/output.js';
import { createSession, type Session } from '../model/session.js';
import { runPrompt } from '../ops/generate.js';
import type { ChatMessage } from '../tokenizer/index.js';
import { type ExeArgs, parseExeArgs, usage } from './runtime/args.js';
import { type Embedded, loadEmbedded, openEmbedded } from './runtime/embedded.js';
import { type ExeCheckReport, checkEmbedded, embeddedInfo } from './runtime/report.js';

const exe = basename(process.execPath);

function session(e: Embedded, a: ExeArgs): Session {
  return createSession(openEmbedded(e), a.threads !== undefined ? { threads: a.threads } : {});
}

function runMode(e: Embedded, a: ExeArgs, prompt: string): void {
  const s = session(e, a);
  const chat = a.sampling.chat === true;
  const stream = a.stream && !a.json;
  const r = runPrompt(s, { ...a.sampling, prompt }, stream ? (t) => process.stdout.write(t) : undefined);
  if (a.json) printJson({ model: e.manifest.name, prompt, ...r, backend: s.model.backend, load_ms: s.loadMs });
  else if (stream) process.stdout.write('\n');
  else process.stdout.write(`${chat ? '' : prompt}${r.text}\n`);
  if (!a.json) process.stderr.write(`[${r.tokens_generated} tokens, ${r.tok_per_sec.toFixed(1)} tok/s decode, ${r.prefill_tok_per_sec.toFixed(1)} tok/s prefill, ${s.model.backend}]\n`);
}

async function chatMode(e: Embedded, a: ExeArgs): Promise<void> {
  const s = session(e, a);
  const history: ChatMessage[] = [];
  const interactive = process.stdin.isTTY;
  const rl = createInterface({ input: process.stdin, ...(interactive ? { output: process.stderr, prompt: '> ' } : {}), terminal: interactive });
  if (interactive) {
    process.stderr.write(`${exe} — ${e.manifest.name} (${s.model.backend}). Type /exit to quit, /reset to clear history.\n`);
    rl.prompt();
  }
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit' || text === '/quit') break;
    if (text === '/reset') history.length = 0;
    else if (text) {
      const r = runPrompt(s, { ...a.sampling, prompt: text, chat: true, history }, a.json ? undefined : (t) => process.stdout.write(t));
      if (a.json) process.stdout.write(`${JSON.stringify({ user: text, assistant: r.text, tokens_generated: r.tokens_generated, tok_per_sec: r.tok_per_sec })}\n`);
      else process.stdout.write('\n');
      history.push({ role: 'user', content: text }, { role: 'assistant', content: r.text });
    }
    if (interactive) rl.prompt();
  }
  rl.close();
}

function printInfo(e: Embedded, json: boolean): void {
  const i = embeddedInfo(e);
  if (json) return printJson(i);
  const c = i.config;
  const rows: [string, string | number][] = [
    ['model', i.name],
    ['architecture', `${i.architecture}: ${c.num_layers} layers, hidden ${c.hidden_size}, ${c.num_heads} heads (${c.num_kv_heads} KV), vocab ${c.vocab_size}`],
    ['parameters', i.parameters.toLocaleString('en-US')],
    ['quantization', `${i.quantization.scheme ?? 'none'} (${i.quantization.bits_per_weight.toFixed(3)} bits per weight; ${Object.entries(i.dtypes).map(([d, n]) => `${d}×${n}`).join(' ')})`],
    ['tokenizer', i.tokenizer ? `${i.tokenizer.vocab_size} tokens${i.tokenizer.chat_template ? ', chat template' : ''}` : 'none'],
    ['weights', `${i.weights.bytes} bytes, ${i.weights.sha256}`],
    ['provenance', i.provenance.map((p) => `${p.op} (${[p.toolVersion, p.time].filter((x) => x !== undefined).join(', ')})`).join(' → ')],
    ['runtime', `node ${i.runtime.node}, ${i.runtime.apr}, ${i.runtime.target}`],
  ];
  printTable(['field', 'value'], rows);
}

function printCheck(r: ExeCheckReport): void {
  printTable(['stage', 'status', 'time', 'details'], r.stages.map((s) => [`${s.id} ${s.name}`, s.status, `${s.ms.toFixed(0)} ms`, s.details]));
  const d = r.weights_digest;
  process.stdout.write(`embedded weights: ${d.match ? `${d.computed} (as compiled)` : `MISMATCH: ${d.computed}, compiled as ${d.recorded}`}\n`);
  const failed = r.stages.filter((s) => s.status === 'FAIL').map((s) => `${s.id} ${s.name}`);
  const verdict = r.all_passed && d.match ? 'all stages passed' : `FAILED: ${[...failed, ...(d.match ? [] : ['weights digest'])].join(', ')}`;
  process.stdout.write(`${r.model} (${r.architecture}): score ${r.score}/100, ${r.passed}/${r.total} stages passed; ${verdict}\n`);
}

function checkMode(e: Embedded, json: boolean): number {
  const r = checkEmbedded(e);
  if (json) printJson(r);
  else printCheck(r);
  return r.all_passed && r.weights_digest.match ? EXIT.ok : EXIT.failed;
}

async function main(argv: readonly string[]): Promise<number> {
  const a = parseExeArgs(argv);
  if (a.mode === 'help') {
    process.stdout.write(usage(exe));
    return EXIT.ok;
  }
  const e = loadEmbedded();
  switch (a.mode) {
    case 'version':
      process.stdout.write(`${e.manifest.name}: node ${process.version}, ${e.manifest.tool_version}\n`);
      return EXIT.ok;
    case 'info':
      printInfo(e, a.json);
      return EXIT.ok;
    case 'check':
      return checkMode(e, a.json);
    case 'chat':
      // with a prompt: one turn in the chat template (as apr run --chat); without: the REPL on stdin
      if (a.prompt !== undefined) runMode(e, { ...a, sampling: { ...a.sampling, chat: true } }, a.prompt);
      else await chatMode(e, a);
      return EXIT.ok;
    case 'run':
      runMode(e, a, a.prompt ?? '');
      return EXIT.ok;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(exe, err);
  },
);
