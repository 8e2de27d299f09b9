import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture, runCli } from '../helpers.js';

const TARGET = fixture('gguf/tiny-coder-llama-f32.gguf');
const DRAFT = fixture('gguf/tiny-draft-llama-f32.gguf');
const ref = JSON.parse(readFileSync(fixture('reference/tiny-coder-llama.reference.json'), 'utf8')) as { prompts: { text: string; greedy_32: number[] }[] };

describe('apr bench (op-bench-v1)', () => {
  it('prints the throughput JSON with one record per iteration and a speculative section [ob:bench-iterations] [ob:bench-speculative-identical]', () => {
    const r = runCli('apr', ['bench', TARGET, '--prompt-tokens', '16', '--gen-tokens', '12', '--iterations', '3', '--speculative', '--draft-model', DRAFT, '--speculation-k', '3', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      benchmark: string; model: string; backend: string; config: Record<string, unknown>;
      results: { tokens_per_second: number; prefill_tokens_per_second: number; time_to_first_token_ms: number; peak_rss_mb: number; speculative: { plain_tokens_per_second: number; tokens_per_second: number; speedup: number; cpu_speedup: number; acceptance_rate: number; tokens_per_round: number; outputs_identical: boolean } };
      iterations: { tokens_per_second: number }[];
    };
    expect(j.benchmark).toBe('throughput');
    expect(j.model).toBe(TARGET);
    expect(j.backend).toMatch(/^cpu|wasm/);
    expect(j.config).toEqual({ prompt_tokens: 16, gen_tokens: 12, iterations: 3, speculation_k: 3, draft_p_min: 0, draft_model: DRAFT, speculative_prompt: 'def fibonacci(n):' });
    expect(j.iterations).toHaveLength(3);
    const tps = j.iterations.map((i) => i.tokens_per_second).sort((a, b) => a - b);
    expect(j.results.tokens_per_second).toBe(tps[1]);
    for (const v of [j.results.tokens_per_second, j.results.prefill_tokens_per_second, j.results.time_to_first_token_ms]) expect(v).toBeGreaterThan(0);
    // the model alone is 22 MB of f32 weights; a process holding it cannot be below that, nor (for these tiny models) above 4 GB
    expect(j.results.peak_rss_mb).toBeGreaterThan(22);
    expect(j.results.peak_rss_mb).toBeLessThan(4096);
    expect(j.results.speculative.outputs_identical).toBe(true);
    expect(j.results.speculative.acceptance_rate).toBeGreaterThan(0);
    expect(j.results.speculative.acceptance_rate).toBeLessThanOrEqual(1);
    // the ratio is the one two `apr run --json` lines give: speculative tok/s over plain tok/s
    const sp = j.results.speculative;
    expect(sp.speedup).toBeGreaterThan(0);
    expect(sp.cpu_speedup).toBeGreaterThan(0);
    expect(sp.tokens_per_round).toBeGreaterThanOrEqual(1);
    expect(sp.plain_tokens_per_second).toBeGreaterThan(0);
    const its = (j.iterations as unknown as { speculative: { speedup: number; tokens_per_second: number; plain_tokens_per_second: number } }[]).map((i) => i.speculative);
    for (const i of its) expect(i.speedup).toBeCloseTo(i.tokens_per_second / i.plain_tokens_per_second, 9);
  });

  it('apr run --speculative --json carries acceptance_rate, speculation_k, draft_model and the plain greedy ids', () => {
    const p = ref.prompts[0];
    if (!p) throw new Error('no prompt');
    const r = runCli('apr', ['run', TARGET, p.text, '-n', '16', '--speculative', '--draft-model-path', DRAFT, '--speculation-k', '5', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { token_ids: number[]; acceptance_rate: number; speculation_k: number; draft_model: string };
    expect(j.token_ids).toEqual(p.greedy_32.slice(0, 16));
    expect(j.speculation_k).toBe(5);
    expect(j.draft_model).toBe(DRAFT);
    expect(j.acceptance_rate).toBeGreaterThan(0);
    expect(j.acceptance_rate).toBeLessThanOrEqual(1);
  });

  it('--speculative without a draft is a usage error (exit 2)', () => {
    const r = runCli('apr', ['bench', TARGET, '--speculative']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--draft-model/);
  });
});
