/**
 * Peak memory of `apr merge` on two synthetic Llama-shaped models of ≥ 2 GB each (float32 APR files written
 * to a temporary folder and deleted afterwards; nothing is committed).
 *   npx tsx bench/merge-memory.ts [--strategies linear,ties] [--layers 10] [--keep] [--json]
 * Each merge runs in a fresh child process so that its resident set starts clean; the child samples RSS
 * after every merged tensor (`MergeResult.peak_rss_bytes`) and reports its RSS before the merge started.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModel } from '../src/formats/open.js';
import { type MergeResult, mergeModels } from '../src/ops/merge.js';
import type { ArchConfig, ModelBundle } from '../src/tensor/bundle.js';
import { elementCount } from '../src/tensor/dtype.js';
import type { TensorRef } from '../src/tensor/store.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function config(layers: number): ArchConfig {
  return {
    architecture: 'llama', hidden_size: 2048, num_layers: layers, num_heads: 16, num_kv_heads: 16, head_dim: 128, vocab_size: 32000,
    intermediate_size: 5632, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 2048, tie_word_embeddings: false, attention_bias: false,
  };
}

function shapes(c: ArchConfig): [string, number[]][] {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const out: [string, number[]][] = [['model.embed_tokens.weight', [c.vocab_size, H]]];
  for (let l = 0; l < c.num_layers; l++) {
    const p = `model.layers.${l}`;
    out.push([`${p}.input_layernorm.weight`, [H]], [`${p}.post_attention_layernorm.weight`, [H]]);
    for (const x of ['q', 'k', 'v', 'o']) out.push([`${p}.self_attn.${x}_proj.weight`, [H, H]]);
    out.push([`${p}.mlp.gate_proj.weight`, [I, H]], [`${p}.mlp.up_proj.weight`, [I, H]], [`${p}.mlp.down_proj.weight`, [H, I]]);
  }
  out.push(['model.norm.weight', [H]], ['lm_head.weight', [c.vocab_size, H]]);
  return out;
}

/** A tensor of deterministic pseudo-random values in [−0.05, 0.05), generated on read (xorshift32). */
function syntheticRef(name: string, shape: number[], seed: number): TensorRef {
  const n = elementCount(shape);
  return {
    name, dtype: 'F32', shape, byteLength: n * 4,
    read: () => {
      const a = new Float32Array(n);
      let x = (seed ^ (n * 2654435761)) >>> 0 || 1;
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        a[i] = ((x >>> 0) / 4294967296 - 0.5) * 0.1;
      }
      return new Uint8Array(a.buffer);
    },
  };
}

function writeSynthetic(path: string, layers: number, seed: number): number {
  const c = config(layers);
  const refs = new Map(shapes(c).map(([name, shape], i) => [name, syntheticRef(name, shape, seed * 7919 + i)]));
  const bundle: ModelBundle = {
    config: c, metadata: {}, provenance: [], source: { path, format: 'memory' },
    tensors: { names: () => [...refs.keys()], get: (n) => refs.get(n), close: () => undefined },
  };
  return writeModel(bundle, path, 'apr');
}

interface ChildReport {
  start_rss_bytes: number;
  result: MergeResult;
}

/** The child: one merge, RSS before it, the op's result (with its sampled peak) as JSON on stdout. */
function child(a: string, b: string, out: string, strategy: string): void {
  const start = process.memoryUsage.rss();
  const result = mergeModels({ models: [a, b], output: out, strategy, ...(strategy === 'linear' ? {} : { density: 0.5 }) });
  const report: ChildReport = { start_rss_bytes: start, result };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

const mb = (x: number): string => `${(x / 2 ** 20).toFixed(0)} MiB`;

function main(): void {
  const strategies = arg('strategies', 'linear,ties').split(',');
  const layers = Number(arg('layers', '10'));
  const dir = mkdtempSync(join(tmpdir(), 'apr-merge-memory-'));
  try {
    const a = join(dir, 'a.apr');
    const b = join(dir, 'b.apr');
    const t0 = performance.now();
    const bytes = [writeSynthetic(a, layers, 1), writeSynthetic(b, layers, 2)];
    console.error(`wrote two synthetic models of ${bytes.map((x) => `${(x / 1e9).toFixed(2)} GB`).join(' and ')} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const rows: Record<string, unknown>[] = [];
    for (const strategy of strategies) {
      const out = join(dir, `${strategy}.apr`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', a, b, out, strategy], { encoding: 'utf8', maxBuffer: 16 << 20 });
      if (r.status !== 0) throw new Error(`child failed (${String(r.status)}): ${r.stderr}`);
      const rep = JSON.parse(r.stdout) as ChildReport;
      const res = rep.result;
      const growth = res.peak_rss_bytes - rep.start_rss_bytes;
      rows.push({
        strategy, input_bytes: bytes, output_bytes: statSync(out).size, largest_tensor_f32_bytes: res.largest_tensor_f32_bytes,
        start_rss_bytes: rep.start_rss_bytes, peak_rss_bytes: res.peak_rss_bytes, growth_over_largest_tensor: growth / res.largest_tensor_f32_bytes, seconds: res.seconds,
      });
      console.error(`${strategy}: peak RSS ${mb(res.peak_rss_bytes)} (start ${mb(rep.start_rss_bytes)}, growth ${mb(growth)} = ${(growth / res.largest_tensor_f32_bytes).toFixed(2)} × the largest tensor of ${mb(res.largest_tensor_f32_bytes)}); ${res.seconds.toFixed(0)} s`);
      rmSync(out, { force: true });
    }
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } finally {
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  }
}

const ci = process.argv.indexOf('--child');
if (ci >= 0) {
  const [a, b, out, strategy] = process.argv.slice(ci + 1);
  child(a ?? '', b ?? '', out ?? '', strategy ?? 'linear');
} else {
  main();
}
