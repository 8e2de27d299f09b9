/**
 * `apr quantize` against llama-quantize on tiny-coder-llama (f32 GGUF):
 *   1. quantization throughput (MB of f32 source per second), ours next to llama-quantize's;
 *   2. per-tensor RMS error of Q4_K and Q6_K (`--pure`), ours next to llama-quantize's;
 *   3. perplexity under our protocol (heldout.py.txt, windows of 256 tokens, first 32 chunks, tokens 1..255
 *      scored) of our Q8_0 / Q6_K / Q4_K_M / Q4_0 files next to llama.cpp's fixture files, and of our own
 *      schemes (nf4, int8, int4 are decoded to F32 at load: the CPU kernels do not read them);
 *   4. decode tokens/s of each of our files with the CPU backend.
 *   npx tsx bench/quantize.ts [--chunks 32] [--no-ppl] [--no-decode] [--json]
 * Needs llama.cpp's tools for the llama-quantize columns (LLAMA_CPP_BIN or ./.llama-cpp or ../llama-cpp).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readGguf } from '../src/formats/gguf/index.js';
import { openModel } from '../src/formats/open.js';
import { type Model, loadModel } from '../src/model/index.js';
import { createSession } from '../src/model/session.js';
import { evalPerplexity } from '../src/ops/perplexity.js';
import { quantizeModel } from '../src/ops/quantize.js';
import type { ModelBundle } from '../src/tensor/bundle.js';
import { dequantize } from '../src/tensor/codecs/index.js';
import { elementCount } from '../src/tensor/dtype.js';
import { convertedRef } from '../src/tensor/quant/model.js';
import { MemoryTensorStore } from '../src/tensor/store.js';

const FIX = path.resolve(process.cwd(), '../shared/fixtures');
const F32 = path.join(FIX, 'gguf/tiny-coder-llama-f32.gguf');
const BIN = [process.env['LLAMA_CPP_BIN'], path.resolve('.llama-cpp/src/build/bin'), path.resolve('../llama-cpp/src/build/bin')].find((d): d is string => d !== undefined && existsSync(path.join(d, 'llama-quantize')));
const tmp = mkdtempSync(path.join(tmpdir(), 'apr-bench-quant-'));
const json = process.argv.includes('--json');
const chunksArg = process.argv.indexOf('--chunks');
const chunks = chunksArg >= 0 ? Number(process.argv[chunksArg + 1]) : 32;
const log = (s: string): void => {
  if (!json) console.log(s);
};

function table(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_h, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
}

/** llama-quantize with n threads: wall seconds and its own "quantize time". */
function llamaQuantize(out: string, type: string, threads: number, pure = false): { wall: number; quantize: number } {
  const t0 = performance.now();
  const text = execFileSync(path.join(BIN ?? '', 'llama-quantize'), [...(pure ? ['--pure'] : []), F32, out, type, String(threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = (performance.now() - t0) / 1000;
  const m = /quantize time =\s*([\d.]+) ms/.exec(text);
  return { wall, quantize: m ? Number(m[1]) / 1000 : NaN };
}

const SCHEMES: [string, string | undefined, string][] = [
  ['q8_0', 'Q8_0', 'gguf'], ['q4_0', 'Q4_0', 'gguf'], ['q4_1', 'Q4_1', 'gguf'], ['q5_0', 'Q5_0', 'gguf'], ['q4_k_s', 'Q4_K_S', 'gguf'], ['q4_k_m', 'Q4_K_M', 'gguf'],
  ['q5_k_m', 'Q5_K_M', 'gguf'], ['q6_k', 'Q6_K', 'gguf'], ['f16', 'F16', 'gguf'], ['nf4', undefined, 'apr'], ['int8', undefined, 'apr'], ['int4', undefined, 'apr'],
];
const sourceMB = statSync(F32).size / 1e6;

// 1. Throughput.
log(`# quantization throughput, tiny-coder-llama f32 (${sourceMB.toFixed(2)} MB), single-threaded ours; llama-quantize with 1 and 2 threads`);
const throughput = SCHEMES.map(([scheme, type, ext]) => {
  const out = path.join(tmp, `ours-${scheme}.${ext}`);
  const r = quantizeModel({ input: F32, output: out, scheme });
  const l1 = BIN && type ? llamaQuantize(path.join(tmp, `llama-${type}.gguf`), type, 1) : undefined;
  const l2 = BIN && type ? llamaQuantize(path.join(tmp, `llama-${type}.gguf`), type, 2) : undefined;
  return { scheme, ours_s: r.seconds, ours_mb_s: r.mbPerSecond, bpw: r.bitsPerWeight, file_mb: r.fileBytes / 1e6, llama_1t_s: l1?.wall, llama_1t_quant_s: l1?.quantize, llama_2t_s: l2?.wall };
});
const fmt = (v: number | undefined, d = 2): string => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
table(['scheme', 'bpw', 'MB', 'ours s', 'ours MB/s', 'llama 1t s (quant)', 'llama 1t MB/s', 'llama 2t s'], throughput.map((t) => [
  t.scheme, fmt(t.bpw, 3), fmt(t.file_mb), fmt(t.ours_s), fmt(t.ours_mb_s, 1), `${fmt(t.llama_1t_s)} (${fmt(t.llama_1t_quant_s)})`, t.llama_1t_s ? fmt(sourceMB / t.llama_1t_s, 1) : '-', fmt(t.llama_2t_s),
]));

// 2. Per-tensor RMS error, --pure Q4_K and Q6_K.
function rmsTable(scheme: 'q4_k' | 'q6_k', type: 'Q4_K' | 'Q6_K'): { tensor: string; ours: number; llama?: number; identical?: boolean }[] {
  const ours = path.join(tmp, `pure-${scheme}.gguf`);
  quantizeModel({ input: F32, output: ours, scheme, pure: true });
  const theirs = path.join(tmp, `pure-llama-${type}.gguf`);
  if (BIN) llamaQuantize(theirs, type === 'Q4_K' ? 'Q4_K_S' : 'Q6_K', 2, true);
  const f = readGguf(F32), a = readGguf(ours), b = BIN ? readGguf(theirs) : undefined;
  const rms = (x: Float32Array, g: typeof a, name: string): number => {
    const t = g.tensors.find((u) => u.name === name);
    if (!t) return NaN;
    const y = dequantize(t.ggmlType, g.read(t), x.length);
    let s = 0;
    for (let i = 0; i < x.length; i++) s += ((x[i] ?? 0) - (y[i] ?? 0)) ** 2;
    return Math.sqrt(s / x.length);
  };
  const rows = f.tensors.filter((t) => t.dims.length === 2).map((t) => {
    const x = dequantize('F32', f.read(t), elementCount(t.dims));
    const ta = a.tensors.find((u) => u.name === t.name), tb = b?.tensors.find((u) => u.name === t.name);
    const identical = ta && tb && b ? Buffer.from(a.read(ta)).equals(Buffer.from(b.read(tb))) : undefined;
    return { tensor: t.name, ours: rms(x, a, t.name), ...(b ? { llama: rms(x, b, t.name), identical } : {}) };
  });
  f.close();
  a.close();
  b?.close();
  return rows;
}
const rmsTables = { Q4_K: rmsTable('q4_k', 'Q4_K'), Q6_K: rmsTable('q6_k', 'Q6_K') };
for (const [type, rows] of Object.entries(rmsTables)) {
  log(`\n# per-tensor RMS error, --pure ${type} (ours vs llama-quantize --pure)`);
  table(['tensor', 'ours RMS', 'llama.cpp RMS', 'bytes identical'], rows.map((r) => [r.tensor, r.ours.toExponential(4), r.llama === undefined ? '-' : r.llama.toExponential(4), r.identical === undefined ? '-' : String(r.identical)]));
}

/** A bundle whose NF4 / APR tensors are decoded to F32 (the CPU kernels do not read them). */
function loadable(b: ModelBundle): ModelBundle {
  const store = new MemoryTensorStore();
  for (const n of b.tensors.names()) {
    const t = b.tensors.get(n);
    if (t) store.addRef(['NF4', 'APR_Q8', 'APR_Q4'].includes(t.dtype) ? convertedRef(t, 'F32') : t);
  }
  return { ...b, tensors: { names: () => store.names(), get: (n) => store.get(n), close: () => b.tensors.close() } };
}

// 3. Perplexity.
const text = readFileSync(path.join(FIX, 'reference/heldout.py.txt'), 'utf8');
/** Runs `fn`, or reports why the file cannot be read (NaN). */
function guarded(what: string, fn: () => number): number {
  try {
    return fn();
  } catch (e) {
    log(`  ${what}: ${(e as Error).message}`);
    return NaN;
  }
}
const ppl = (file: string): number => guarded(path.basename(file), () => evalPerplexity(createSession(loadable(openModel(file))), 'heldout', text, { context: 256, chunks }).perplexity);
let perplexity: { model: string; ours?: number; llama?: number }[] = [];
if (!process.argv.includes('--no-ppl')) {
  log(`\n# perplexity, our protocol (heldout.py.txt, context 256, ${chunks} chunks); f32 reference 7.7156 (transformers)`);
  const base = ppl(F32);
  perplexity = [{ model: 'f32', ours: base }];
  for (const [scheme, type, ext] of [['q8_0', 'Q8_0', 'gguf'], ['q6_k', 'Q6_K', 'gguf'], ['q4_k_m', 'Q4_K_M', 'gguf'], ['q4_0', 'Q4_0', 'gguf'], ['nf4', undefined, 'apr'], ['int8', undefined, 'apr'], ['int4', undefined, 'apr']] as const) {
    const fixture = type ? path.join(FIX, `gguf/tiny-coder-llama-${type}.gguf`) : undefined;
    perplexity.push({ model: scheme, ours: ppl(path.join(tmp, `ours-${scheme}.${ext}`)), ...(fixture ? { llama: ppl(fixture) } : {}) });
  }
  const rel = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '-' : `${v.toFixed(4)} (${v >= base ? '+' : ''}${((100 * (v - base)) / base).toFixed(2)} %)`);
  table(['model', 'ours', 'llama.cpp file'], perplexity.map((p) => [p.model, rel(p.ours), rel(p.llama)]));
}

// 4. Decode speed.
function decodeTokS(model: Model, n = 128): number {
  const cache = model.createCache(16 + n);
  model.forward(Array.from({ length: 16 }, (_, i) => (i * 37) % model.config.vocab_size), 0, cache);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) model.forward([(i * 101) % model.config.vocab_size], 16 + i, cache);
  return (n * 1000) / (performance.now() - t0);
}
let decode: { model: string; tok_s: number }[] = [];
if (!process.argv.includes('--no-decode')) {
  log('\n# decode tokens/s (CPU backend, 128 tokens after a 16-token prompt, best of 3)');
  decode = [['f32', F32], ...SCHEMES.map(([s, , ext]) => [s, path.join(tmp, `ours-${s}.${ext}`)])].map(([name, file]) => ({
    model: name ?? '',
    tok_s: guarded(name ?? '', () => {
      const b = loadable(openModel(file ?? ''));
      const model = loadModel(b);
      b.tensors.close();
      const tok = Math.max(decodeTokS(model), decodeTokS(model), decodeTokS(model));
      model.dispose();
      return tok;
    }),
  }));
  table(['model', 'decode tok/s'], decode.map((d) => [d.model, Number.isNaN(d.tok_s) ? '-' : d.tok_s.toFixed(0)]));
}

if (json) console.log(JSON.stringify({ benchmark: 'quantize', source_mb: sourceMB, llama_cpp: BIN ?? null, throughput, rms: rmsTables, perplexity, decode }, null, 1));
rmSync(tmp, { recursive: true, force: true });
