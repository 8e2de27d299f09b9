import { describe, expect, test } from 'vitest';
import { compareHf } from '../../src/ops/compare-hf.js';
import { fixture, runCli } from '../helpers.js';

/** `apr compare-hf`: the GGUF fixtures against the HF folder they were converted from. */

const HF = fixture('models', 'tiny-coder-llama');
const gguf = (q: string): string => fixture('gguf', `tiny-coder-llama-${q}.gguf`);
const HELDOUT = fixture('reference', 'heldout.py.txt');

/** llama.cpp's own perplexity gaps for the same files (fixtures README: llama-perplexity -c 256 --chunks 64, f32 9.319). */
const LLAMA_CPP_GAP_PCT = { Q8_0: (9.321 / 9.319 - 1) * 100, Q4_K_M: (9.486 / 9.319 - 1) * 100 } as const;

describe('apr compare-hf', () => {
  test('[ob:compare-hf-f32-exact] the f32 GGUF is identical to its HF source: 57 tensors, logits, gap 0 (exit 0)', () => {
    const r = runCli('apr', ['compare-hf', gguf('f32'), '--hf', HF, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as ReturnType<typeof compareHf>;
    expect(j.tensors.compared).toBe(57);
    expect(j.tensors.max_abs_diff).toBe(0);
    expect(j.tensors.only_in_hf).toEqual([]);
    expect(j.logits.max_abs_logit_diff).toBe(0);
    expect(j.logits.top1_agreement).toBe(1);
    expect(j.logits.ppl_gap_pct).toBe(0);
    expect(j.pass).toBe(true);
  }, 60_000);

  test('[ob:compare-hf-quant-gap] Q8_0 and Q4_K_M: dequantized tensors compared, gaps agree with llama.cpp under its protocol', () => {
    const gaps: Record<string, number> = {};
    for (const q of ['Q8_0', 'Q4_K_M'] as const) {
      const r = compareHf({ model: gguf(q), hf: HF, prompts: HELDOUT, context: 256, chunks: 16, scoreFrom: 129 });
      expect(r.tensors.compared).toBe(57);
      expect(r.tensors.dtypes['F32']).toBe(13);
      expect(r.tensors.max_abs_diff).toBeGreaterThan(0);
      expect(r.tensors.min_cosine).toBeGreaterThan(0.99);
      expect(r.logits.scored_tokens).toBe(16 * 127);
      expect(r.logits.mean_kl).toBeGreaterThan(0);
      expect(r.logits.top1_agreement).toBeGreaterThan(0.85);
      expect(Math.abs(r.logits.ppl_gap_pct - LLAMA_CPP_GAP_PCT[q])).toBeLessThanOrEqual(0.5);
      expect(r.pass).toBe(true);
      gaps[q] = r.logits.ppl_gap_pct;
    }
    expect(gaps['Q8_0']).toBeLessThan(gaps['Q4_K_M'] ?? 0);
  }, 90_000);

  test('[ob:compare-hf-gate] another model (tiny-draft-llama) fails the 5 % gate with exit 1, naming the gap', () => {
    const r = runCli('apr', ['compare-hf', fixture('gguf', 'tiny-draft-llama-f32.gguf'), '--hf', HF]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/perplexity: model [\d.]+, HF [\d.]+ over \d+ tokens; gap \+\d+\.\d+ %/);
    expect(r.stdout).toMatch(/^FAIL: gap [\d.]+ % beyond ±5 %/m);
    expect(r.stdout).toMatch(/mismatch: .*shape/);
  }, 60_000);

  test('usage: --hf is required (exit 2); a missing model is bad input (exit 3)', () => {
    expect(runCli('apr', ['compare-hf', gguf('f32')]).status).toBe(2);
    expect(runCli('apr', ['compare-hf', 'no-such.gguf', '--hf', HF]).status).toBe(3);
  }, 30_000);
});
