/**
 * Heldout perplexity of merged and pruned tiny-coder-llama models (the tables of issue 9).
 *   npx tsx bench/merge-prune-ppl.ts [--chunks 32] [--samples 128] [--seq-len 64] [--only merge|prune] [--rows 'wanda,structured']
 * Merges: tiny-coder-llama (base) with its LoRA fine-tune (the PEFT fixture merged into it), every strategy.
 * Pruning: 50 % with magnitude, wanda and sparsegpt, calibrated on test/fixtures/calibration (never on
 * heldout.py.txt), plus 2:4, structured and depth rows. Protocol: heldout.py.txt, context 256, first `chunks`
 * windows (the fixtures' transformers protocol). Every output also goes through `apr check`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openModel, writeModel } from '../src/formats/open.js';
import { readPeftAdapter } from '../src/formats/peft/adapter.js';
import { mergeLora } from '../src/formats/peft/merge.js';
import { createSession } from '../src/model/session.js';
import { checkModel } from '../src/ops/check.js';
import { type MergeOptions, mergeModels } from '../src/ops/merge.js';
import { evalPerplexity } from '../src/ops/perplexity.js';
import { type PruneOptions, pruneModel } from '../src/ops/prune.js';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures');
const CODER = join(FIXTURES, 'models/tiny-coder-llama');
const ADAPTER = join(FIXTURES, 'adapters/tiny-coder-llama-lora-email');
const HELDOUT = readFileSync(join(FIXTURES, 'reference/heldout.py.txt'), 'utf8');
const CALIBRATION = 'test/fixtures/calibration/python-calibration.txt';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const CHUNKS = Number(arg('chunks', '32'));
const SAMPLES = Number(arg('samples', '128'));
const SEQ = Number(arg('seq-len', '64'));
const ONLY = arg('only', 'all');
const ROWS = arg('rows', '');

function ppl(path: string): number {
  return evalPerplexity(createSession(openModel(path)), 'heldout.py.txt', HELDOUT, { context: 256, chunks: CHUNKS }).perplexity;
}

function check(path: string): string {
  const r = checkModel(path);
  const failed = r.stages.filter((s) => s.status === 'FAIL').map((s) => s.id);
  return r.all_passed ? `pass (${r.score})` : `FAIL ${failed.join(',')}`;
}

function row(cells: (string | number)[]): void {
  process.stdout.write(`| ${cells.join(' | ')} |\n`);
}

function mergeTable(dir: string): void {
  const lora = join(dir, 'coder+lora.apr');
  writeModel(mergeLora(openModel(CODER), readPeftAdapter(ADAPTER)), lora, 'apr');
  const dare = join(dir, 'dare_linear.apr');
  const runs: [string, string, Omit<MergeOptions, 'output'>][] = [
    ['linear', 'weights 0.5, 0.5', { models: [CODER, lora], strategy: 'linear', weights: [0.5, 0.5] }],
    ['slerp', 't 0.5', { models: [CODER, lora], strategy: 'slerp', t: [0.5] }],
    ['task_arithmetic', 'weight 1, λ 0.5', { models: [CODER, lora], strategy: 'task_arithmetic', lambda: 0.5 }],
    ['ties', 'density 0.5', { models: [CODER, lora], strategy: 'ties', density: 0.5 }],
    ['dare_ties', 'drop 0.5, seed 0', { models: [CODER, lora], strategy: 'dare_ties', dropRate: 0.5, seed: 0 }],
    ['dare_linear', 'drop 0.5, seed 0', { models: [CODER, lora], strategy: 'dare_linear', dropRate: 0.5, seed: 0 }],
    ['breadcrumbs', 'density 0.9, γ 0.01', { models: [CODER, lora], strategy: 'breadcrumbs', density: 0.9, gamma: 0.01 }],
    ['model_stock', 'others: LoRA, dare_linear(LoRA)', { models: [CODER, lora, dare], strategy: 'model_stock' }],
    ['della', 'density 0.5, ε 0.15, seed 0', { models: [CODER, lora], strategy: 'della', density: 0.5, seed: 0 }],
  ];
  process.stdout.write(`\nMerges of tiny-coder-llama (base) with its LoRA-merged variant — heldout.py.txt, context 256, ${CHUNKS} chunks\n\n`);
  row(['model', 'parameters', 'heldout ppl', 'apr check', 'merge s']);
  row(['---', '---', '---', '---', '---']);
  row(['tiny-coder-llama (base)', '', ppl(CODER).toFixed(4), '', '']);
  row(['LoRA-merged variant', 'PEFT fixture merged', ppl(lora).toFixed(4), check(lora), '']);
  for (const [name, params, o] of runs) {
    const out = name === 'dare_linear' ? dare : join(dir, `${name}.apr`);
    const r = mergeModels({ ...o, output: out });
    row([name, params, ppl(out).toFixed(4), check(out), r.seconds.toFixed(1)]);
  }
}

function pruneTable(dir: string): void {
  const cal = { calibration: CALIBRATION, samples: SAMPLES, seqLen: SEQ, seed: 0 };
  const runs: [string, Omit<PruneOptions, 'input' | 'output'>][] = [
    ['magnitude 50 %', { method: 'magnitude', targetRatio: 0.5 }],
    ['wanda 50 %', { method: 'wanda', targetRatio: 0.5, ...cal }],
    ['sparsegpt 50 %', { method: 'sparsegpt', targetRatio: 0.5, ...cal }],
    ['magnitude 2:4', { method: 'magnitude', pattern: '2:4' }],
    ['wanda 2:4', { method: 'wanda', pattern: '2:4', ...cal }],
    ['sparsegpt 2:4', { method: 'sparsegpt', pattern: '2:4', ...cal }],
    ['structured channels 25 %', { method: 'structured', unit: 'channels', targetRatio: 0.25, ...cal }],
    ['structured heads 25 %', { method: 'structured', unit: 'heads', targetRatio: 0.25, ...cal }],
    ['structured heads 50 %', { method: 'structured', unit: 'heads', targetRatio: 0.5, ...cal }],
    ['depth (block influence) 1 of 6', { method: 'depth', targetRatio: 1 / 6, ...cal }],
  ];
  process.stdout.write(`\nPruning tiny-coder-llama — heldout.py.txt, context 256, ${CHUNKS} chunks; calibration ${SAMPLES} × ${SEQ} tokens of ${CALIBRATION}\n\n`);
  row(['method', 'sparsity (min–max per tensor)', 'parameters', 'heldout ppl', 'apr check', 'prune s (calibration s)']);
  row(['---', '---', '---', '---', '---', '---']);
  row(['dense', '0', '', ppl(CODER).toFixed(4), '', '']);
  for (const [name, o] of runs.filter(([n]) => !ROWS || ROWS.split(',').some((r) => n.startsWith(r)))) {
    const out = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.apr`);
    const r = pruneModel({ input: CODER, output: out, ...o });
    const sp = r.tensors.map((t) => t.sparsity);
    const sparsity = sp.length ? `${(100 * Math.min(...sp)).toFixed(3)}–${(100 * Math.max(...sp)).toFixed(3)} %` : JSON.stringify(r.removed?.layers ?? Object.fromEntries(Object.entries(r.config_changes)));
    row([name, sparsity, `${r.parameters_after.toLocaleString('en-US')}`, ppl(out).toFixed(4), check(out), `${r.seconds.toFixed(1)} (${r.calibration?.seconds.toFixed(1) ?? '-'})`]);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'apr-merge-prune-ppl-'));
try {
  if (ONLY !== 'prune') mergeTable(dir);
  if (ONLY !== 'merge') pruneTable(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
