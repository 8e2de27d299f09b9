/**
 * Speculative vs plain greedy decoding on the fixture models: tiny-coder-llama (target) with tiny-draft-llama.
 *   npx tsx bench/speculative.ts [--tokens 64] [--ks 1,2,3,4,6,8] [--p-min P] [--target f32|Q8_0|Q4_K_M|Q6_K] [--json]
 * Over the 7 reference prompts, per k: acceptance rate, tokens per target pass, decode tokens/s and the
 * speed-up over plain decoding, from this process's CPU time (steadier than wall time on a shared machine;
 * the process is single-threaded). Also checks that every speculative output equals the plain one.
 * Then where the time goes: the target's pass cost V(n) over n rows (one decode row plus n − 1 proposals,
 * after a 100-token prefix) relative to V(1), the draft's one-token pass D relative to V(1), and per k the
 * ceiling those costs allow at the measured acceptance α: max over m ≤ k of E(m)·P / (V(m+1) + m·D + P − V(1)),
 * E(m) = (1 − α^(m+1)) / (1 − α) tokens per round (Leviathan et al. 2023), P the plain CPU ms per token (so
 * P − V(1), the per-token work outside the pass, is counted once per round).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openModel } from '../src/formats/open.js';
import { generate } from '../src/model/generate.js';
import { createSession } from '../src/model/session.js';
import { speculativeGenerate } from '../src/model/speculative.js';

const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function cpuMs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const tokens = Number(arg('tokens', '64'));
const ks = arg('ks', '1,2,3,4,5,6,8').split(',').map(Number);
const pMinArg = arg('p-min', '');
const policy = pMinArg === '' ? {} : { draftPMin: Number(pMinArg) };
const prompts = (JSON.parse(readFileSync(path.join(FIXTURES, 'reference/tiny-coder-llama.reference.json'), 'utf8')) as { prompts: { ids: number[] }[] }).prompts.map((p) => p.ids);
const target = createSession(openModel(path.join(FIXTURES, `gguf/tiny-coder-llama-${arg('target', 'f32')}.gguf`))).model;
const draft = createSession(openModel(path.join(FIXTURES, 'gguf/tiny-draft-llama-f32.gguf'))).model;

// warm-up (JIT, scratch buffers)
for (const p of prompts.slice(0, 2)) {
  generate(target, p, { maxTokens: 8 });
  speculativeGenerate(target, draft, p, { maxTokens: 8, k: 4 });
}

/** Decode CPU ms of plain greedy decoding per prompt (prefill excluded by subtracting a prefill-only run). */
function plainRun(p: number[]): { ids: number[]; ms: number } {
  let ids: number[] = [];
  const ms = cpuMs(() => (ids = generate(target, p, { maxTokens: tokens }).ids));
  const pre = cpuMs(() => generate(target, p, { maxTokens: 1 }));
  return { ids, ms: ms - pre };
}

const plain = prompts.map(plainRun);
const plainMs = plain.reduce((a, r) => a + r.ms, 0);
const plainTokens = plain.reduce((a, r) => a + r.ids.length, 0);
const draftOnlyMs = prompts.reduce((a, p) => a + cpuMs(() => generate(draft, p, { maxTokens: tokens })), 0);

interface Row { k: number; acceptance: number; tokensPerPass: number; tokPerSec: number; speedup: number; identical: boolean }
const rows: Row[] = [];
for (const k of ks) {
  let ms = 0;
  let drafted = 0;
  let accepted = 0;
  let rounds = 0;
  let identical = true;
  prompts.forEach((p, i) => {
    let r: ReturnType<typeof speculativeGenerate> | undefined;
    const total = cpuMs(() => (r = speculativeGenerate(target, draft, p, { maxTokens: tokens, k, ...policy })));
    const pre = cpuMs(() => generate(target, p, { maxTokens: 1 }));
    if (!r) return;
    ms += total - pre;
    drafted += r.stats.drafted;
    accepted += r.stats.accepted;
    rounds += r.stats.rounds;
    identical &&= JSON.stringify(r.ids) === JSON.stringify(plain[i]?.ids);
  });
  rows.push({ k, acceptance: accepted / drafted, tokensPerPass: plainTokens / rounds, tokPerSec: (plainTokens * 1000) / ms, speedup: plainMs / ms, identical });
}

/** Mean CPU ms of one pass of `m` over n rows at position 100 (the cache rolled back after each pass). */
function passMs(m: typeof target, n: number): number {
  const cache = m.createCache(128);
  m.forward(Array.from({ length: 100 }, (_, i) => 5 + i), 0, cache);
  const toks = Array.from({ length: n }, (_, i) => 7 + i);
  const reps = 300;
  for (let i = 0; i < 30; i++) {
    m.forward(toks, 100, cache, { allLogits: true });
    cache.truncate(100);
  }
  const ms = cpuMs(() => {
    for (let i = 0; i < reps; i++) {
      m.forward(toks, 100, cache, { allLogits: true });
      cache.truncate(100);
    }
  });
  return ms / reps;
}

const kMax = Math.max(...ks);
const passes = Array.from({ length: kMax + 1 }, (_, i) => passMs(target, i + 1));
const v1 = passes[0] as number;
const passRatio = passes.map((ms) => ms / v1);
const draftRatio = passMs(draft, 1) / v1;
const alpha = rows.reduce((a, r) => a + r.acceptance, 0) / Math.max(1, rows.length);
/** The best speed-up verifying m ≤ k proposals per round allows at acceptance `a` with the measured pass costs. */
const plainPerToken = plainMs / plainTokens;
function ceiling(k: number, a: number): number {
  let best = 1;
  for (let m = 1; m <= k; m++) best = Math.max(best, ((1 - a ** (m + 1)) / (1 - a)) * plainPerToken / (((passRatio[m] ?? Infinity) + m * draftRatio) * v1 + plainPerToken - v1));
  return best;
}
const costs = { plain_ms_per_token: plainPerToken, target_pass_ms_1: v1, target_pass_ratio: passRatio, draft_pass_ratio: draftRatio, acceptance: alpha, ceiling_by_k: Object.fromEntries(ks.map((k) => [k, ceiling(k, alpha)])) };

const report = { tokens_per_prompt: tokens, prompts: prompts.length, plain_tok_per_sec: (plainTokens * 1000) / plainMs, draft_alone_tok_per_sec: (plainTokens * 1000) / draftOnlyMs, rows, costs };
if (process.argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`plain greedy: ${report.plain_tok_per_sec.toFixed(1)} tok/s (CPU time); draft alone: ${report.draft_alone_tok_per_sec.toFixed(1)} tok/s`);
  console.log('k  acceptance  tokens/pass  tok/s    speed-up  identical');
  for (const r of rows) console.log(`${String(r.k).padEnd(3)}${r.acceptance.toFixed(3).padEnd(12)}${r.tokensPerPass.toFixed(2).padEnd(13)}${r.tokPerSec.toFixed(1).padEnd(9)}${r.speedup.toFixed(2).padEnd(10)}${r.identical}`);
  console.log(`\nwhere the time goes: plain ${plainPerToken.toFixed(3)} ms a token, of which the one-row pass V(1) = ${v1.toFixed(3)} ms; V(n)/V(1) for n = 1..${kMax + 1}: ${passRatio.map((r) => r.toFixed(2)).join(' ')}; draft pass D/V(1) = ${draftRatio.toFixed(3)}`);
  console.log(`ceiling at α = ${alpha.toFixed(3)} (best m ≤ k): ${ks.map((k) => `k=${k} ${ceiling(k, alpha).toFixed(2)}×`).join(', ')}`);
}
