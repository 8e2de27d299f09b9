/**
 * Peak memory of `apr import` / `apr export` on a synthetic HF folder of at least 2 GB (f32 Llama,
 * hidden 2048, 12 layers, vocab 32000). Prints a table and JSON. Usage: npx tsx bench/import-memory.ts [dir]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHfDir } from '../src/formats/hf-dir/write.js';
import type { ModelBundle } from '../src/tensor/bundle.js';
import { MemoryTensorStore, type TensorRef } from '../src/tensor/store.js';

const dir = process.argv[2] ?? '/tmp/apr-import-memory';
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const H = 2048, L = 12, V = 32000, F = 5632;
const store = new MemoryTensorStore();
const lazy = (name: string, shape: number[]): TensorRef => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, dtype: 'F32', shape, byteLength: n * 4, read: () => {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = Math.sin(i * 0.001 + name.length) * 0.02;
    return new Uint8Array(f.buffer);
  } };
};
store.addRef(lazy('model.embed_tokens.weight', [V, H]));
store.addRef(lazy('lm_head.weight', [V, H]));
store.addRef(lazy('model.norm.weight', [H]));
for (let l = 0; l < L; l++) {
  const p = `model.layers.${l}`;
  for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) store.addRef(lazy(`${p}.self_attn.${m}.weight`, [H, H]));
  store.addRef(lazy(`${p}.mlp.gate_proj.weight`, [F, H]));
  store.addRef(lazy(`${p}.mlp.up_proj.weight`, [F, H]));
  store.addRef(lazy(`${p}.mlp.down_proj.weight`, [H, F]));
  store.addRef(lazy(`${p}.input_layernorm.weight`, [H]));
  store.addRef(lazy(`${p}.post_attention_layernorm.weight`, [H]));
}
const bundle: ModelBundle = {
  config: { architecture: 'llama', hidden_size: H, num_layers: L, num_heads: 16, num_kv_heads: 16, head_dim: 128, vocab_size: V, intermediate_size: F, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 2048, tie_word_embeddings: false, attention_bias: false },
  tensors: store, metadata: {}, provenance: [], source: { path: 'synthetic', format: 'memory' },
};
const hf = join(dir, 'hf');
writeHfDir(bundle, hf, { maxShardBytes: 1_000_000_000 });
writeFileSync(join(hf, 'README'), 'synthetic');
const size = (p: string): number => statSync(p).isDirectory() ? 0 : statSync(p).size;
function peak(args: string[]): { rssMb: number; seconds: number } {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, '--import', 'tsx', 'src/cli/apr.ts', ...args], { encoding: 'utf8' });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(r.stderr)?.[1] ?? '0';
  if (r.status !== 0) throw new Error(r.stderr.slice(-500));
  const secs = wall.split(':').reduce((a, b) => a * 60 + Number(b), 0);
  return { rssMb: Number(rss) / 1024, seconds: secs };
}
const apr = join(dir, 'm.apr');
const imp = peak(['import', hf, '-o', apr, '--no-golden']);
const exp = peak(['export', apr, '--format', 'gguf', '-o', join(dir, 'm.gguf')]);
const largest = V * H * 4 / 2 ** 20;
const rows = [
  { step: 'import hf → apr', file_mb: size(apr) / 2 ** 20, peak_rss_mb: imp.rssMb, seconds: imp.seconds },
  { step: 'export apr → gguf', file_mb: size(join(dir, 'm.gguf')) / 2 ** 20, peak_rss_mb: exp.rssMb, seconds: exp.seconds },
];
for (const r of rows) console.log(`${r.step.padEnd(20)} file ${r.file_mb.toFixed(0)} MiB  peak RSS ${r.peak_rss_mb.toFixed(0)} MiB  ${r.seconds.toFixed(1)} s  (largest tensor ${largest.toFixed(0)} MiB)`);
console.log(JSON.stringify({ benchmark: 'import-memory', largest_tensor_mb: largest, rows }));
rmSync(dir, { recursive: true, force: true });
