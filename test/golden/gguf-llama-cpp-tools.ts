/** Locating and running llama.cpp's tools for the golden tests (built by ../shared/tools/build-llama-cpp.sh). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readGguf } from '../../src/formats/gguf/read.js';

export const FIX = resolve(process.cwd(), '../shared/fixtures/gguf');
const candidates = [process.env['LLAMA_CPP_BIN'], resolve('.llama-cpp/src/build/bin'), resolve('../llama-cpp/src/build/bin')];
const found = candidates.find((d): d is string => d !== undefined && existsSync(join(d, 'llama-quantize')));

/**
 * Whether the tools die by a signal running a quantized model. A build with -DGGML_NATIVE=ON (as the build script
 * makes) crashed so on an Intel Sapphire Rapids VM (SIGSEGV in llama-completion on every quantized type, and in
 * llama-perplexity on Q4_1 and Q5_K), while the same source ran on other CPUs: a llama.cpp build problem, not a
 * reference to compare with.
 */
function crashes(dir: string): string | undefined {
  const r = spawnSync(join(dir, 'llama-completion'), ['-m', join(FIX, 'tiny-coder-llama-Q4_K_M.gguf'), '-p', 'def', '-n', '2', '--temp', '0', '-t', '1', '-no-cnv', '--no-warmup'], { stdio: 'ignore', timeout: 120_000 });
  return r.signal === null || r.signal === 'SIGTERM' ? undefined : r.signal;
}
const crash = found === undefined ? undefined : crashes(found);

/** The folder holding llama-quantize: $LLAMA_CPP_BIN, else the build script's output under ./.llama-cpp or ../llama-cpp; undefined where those tools crash. */
export const bin = crash === undefined ? found : undefined;
export const reason = crash === undefined
  ? 'llama.cpp tools not found: set LLAMA_CPP_BIN or run ../shared/tools/build-llama-cpp.sh (into ./.llama-cpp or ../llama-cpp)'
  : `llama.cpp tools in ${found ?? ''} crash (${crash}) running tiny-coder-llama-Q4_K_M.gguf: rebuild them for this CPU (e.g. without AMX: CFLAGS/CXXFLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)`;

/** `llama-quantize --allow-requantize [--pure] input output type 2`. */
export function llamaQuantize(input: string, output: string, type: string, pure = false): void {
  const args = ['--allow-requantize', ...(pure ? ['--pure'] : []), input, output, type, '2'];
  execFileSync(join(bin ?? '', 'llama-quantize'), args, { stdio: 'pipe' });
}

/** Greedy continuation of `prompt` by llama-completion (n tokens, EOS ignored), as printed on stdout; `extra` args (e.g. `--lora`) go last. */
export function llamaGreedy(model: string, prompt: string, n: number, extra: readonly string[] = []): string {
  const args = ['-m', model, '-p', prompt, '-n', String(n), '--temp', '0', '--top-k', '1', '-no-cnv', '--no-display-prompt', '--ignore-eos', '-t', '2', ...extra];
  const once = (): string => execFileSync(join(bin ?? '', 'llama-completion'), args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  // llama-completion prints the text through common_log's writer thread; in a heavily loaded full run its tail
  // was once missing at exit (a strict prefix of the text, twice in one run, never alone). Greedy decoding is
  // deterministic, so of two runs where one extends the other, the longer is the whole text; two runs that
  // disagree otherwise are returned as the first, and the comparison fails as it should.
  const [a, b] = [once(), once()];
  if (a === b) return a;
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  return long.startsWith(short) ? long : a;
}

/** Tensors of `ours` that differ from llama.cpp's `theirs` in dtype or bytes (named), llama.cpp's dtype counts, and both general.file_type values. */
export interface GgufTensorDiff {
  tensors: number;
  differing: string[];
  types: Record<string, number>;
  fileType: [unknown, unknown];
}

export function ggufTensorDiff(ours: string, theirs: string): GgufTensorDiff {
  const a = readGguf(ours), b = readGguf(theirs);
  try {
    const out: string[] = [];
    const types: Record<string, number> = {};
    for (const t of b.tensors) {
      types[t.ggmlType] = (types[t.ggmlType] ?? 0) + 1;
      const u = a.tensors.find((x) => x.name === t.name);
      if (!u || u.ggmlType !== t.ggmlType || !Buffer.from(a.read(u)).equals(Buffer.from(b.read(t)))) out.push(`${t.name}: ours ${u?.ggmlType ?? 'missing'}, llama.cpp ${t.ggmlType}`);
    }
    return { tensors: b.tensors.length, differing: out, types, fileType: [a.kv.get('general.file_type')?.value, b.kv.get('general.file_type')?.value] };
  } finally {
    a.close();
    b.close();
  }
}
