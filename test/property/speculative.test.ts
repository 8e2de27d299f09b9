import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import type { Model } from '../../src/model/decoder.js';
import { Rng } from '../../src/model/rng.js';
import { tokenProbabilities, type SamplingOptions } from '../../src/model/sampling.js';
import { createSession } from '../../src/model/session.js';
import { acceptOrResample, speculativeGenerate } from '../../src/model/speculative.js';
import { fixture } from '../helpers.js';

/** Upper 0.1 % quantile of χ²(df), Wilson–Hilferty (accurate to ~1 % for df ≥ 3, ample for a 0.001 test). */
function chi2Critical(df: number): number {
  const z = 3.0902;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Pearson χ² of counts against probabilities; cells with expectation < 5 pooled into one. */
function chiSquare(counts: Map<string, number>, probs: Map<string, number>, n: number): { stat: number; df: number } {
  let stat = 0;
  let cells = 0;
  let poolObs = 0;
  let poolExp = 0;
  const keys = new Set([...counts.keys(), ...probs.keys()]);
  for (const key of keys) {
    const e = (probs.get(key) ?? 0) * n;
    const o = counts.get(key) ?? 0;
    if (e < 5) {
      poolObs += o;
      poolExp += e;
      continue;
    }
    stat += (o - e) ** 2 / e;
    cells++;
  }
  if (poolExp > 0) {
    stat += (poolObs - poolExp) ** 2 / poolExp;
    cells++;
  } else if (poolObs > 0) stat = Infinity;
  return { stat, df: cells - 1 };
}

function logitsAfter(m: Model, ids: number[]): Float32Array {
  const c = m.createCache(ids.length);
  try {
    return m.forward(ids, 0, c);
  } finally {
    c.dispose();
  }
}

/** Exact distribution of the first two sampled tokens, from the model's own logits. */
function exactTwoTokens(m: Model, prompt: number[], opts: SamplingOptions): Map<string, number> {
  const out = new Map<string, number>();
  const p1 = tokenProbabilities(logitsAfter(m, prompt), opts, prompt);
  p1.forEach((a, t1) => {
    if (a <= 0) return;
    const hist = [...prompt, t1];
    tokenProbabilities(logitsAfter(m, hist), opts, hist).forEach((b, t2) => {
      if (b > 0) out.set(`${t1},${t2}`, a * b);
    });
  });
  return out;
}

let target: Model;
let draft: Model;
beforeAll(() => {
  target = createSession(openModel(fixture('gguf/tiny-coder-llama-f32.gguf'))).model;
  draft = createSession(openModel(fixture('gguf/tiny-draft-llama-f32.gguf'))).model;
});

// The first token of the reference prompt "def fibonacci(n):": a one-token prompt, so each run costs two
// one-token draft steps and one 3-token target pass
const PROMPT = [487];

describe('speculative sampling keeps the target distribution (op-speculative-v1)', () => {
  it('one accept/resample step outputs p exactly, for random p and q [ob:spec-accept-rule-exact]', () => {
    const dist = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 4, maxLength: 4 }).filter((w) => w.some((x) => x > 0));
    fc.assert(
      fc.property(dist, dist, fc.integer({ min: 0, max: 1e9 }), (pw, qw, seed) => {
        const norm = (w: number[]): Float64Array => Float64Array.from(w.map((x) => x / w.reduce((a, b) => a + b, 0)));
        const p = norm(pw);
        const q = norm(qw);
        const rng = new Rng(seed);
        const n = 4000;
        const counts = new Map<string, number>();
        for (let i = 0; i < n; i++) {
          // x ~ q, then the rule; the result must be distributed as p
          let u = rng.next();
          let x = 0;
          while (x < 3 && (u -= q[x] as number) >= 0) x++;
          while ((q[x] as number) === 0) x--;
          const d = acceptOrResample(p, q, x, rng);
          counts.set(String(d.token), (counts.get(String(d.token)) ?? 0) + 1);
        }
        const probs = new Map([...p].map((v, i) => [String(i), v] as const));
        const { stat, df } = chiSquare(counts, probs, n);
        if (df < 1) return [...counts.keys()].every((k) => (probs.get(k) ?? 0) > 0);
        return stat < chi2Critical(Math.max(df, 3));
      }),
      { numRuns: 60, seed: 20261126 },
    );
  });

  it('the first two tokens over 1200 seeded runs follow the exact target distribution [ob:spec-distribution-exact]', () => {
    const opts = { temperature: 1, topK: 4 };
    const exactTarget = exactTwoTokens(target, PROMPT, opts);
    const exactDraft = exactTwoTokens(draft, PROMPT, opts);
    const n = 1200; // ~10 ms CPU a run; 1200 keeps the file well under a minute on a loaded 2-core machine
    const counts = new Map<string, number>();
    let drafted = 0;
    let accepted = 0;
    for (let seed = 0; seed < n; seed++) {
      // draftPMin 0: always propose k, so the accept/resample rule is exercised on every run
      const r = speculativeGenerate(target, draft, PROMPT, { ...opts, maxTokens: 2, k: 2, seed, draftPMin: 0 });
      const key = r.ids.slice(0, 2).join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
      drafted += r.stats.drafted;
      accepted += r.stats.accepted;
    }
    const vsTarget = chiSquare(counts, exactTarget, n);
    // a subtly wrong sampler (a fifth of the mass from the draft) must be told apart by the same test
    const mixed = new Map([...new Set([...exactTarget.keys(), ...exactDraft.keys()])].map((key) => [key, 0.8 * (exactTarget.get(key) ?? 0) + 0.2 * (exactDraft.get(key) ?? 0)] as const));
    const vsDraft = chiSquare(counts, mixed, n);
    // the draft is accepted sometimes and rejected sometimes, so both branches of the rule are exercised
    expect(accepted / drafted).toBeGreaterThan(0.05);
    expect(accepted / drafted).toBeLessThan(0.95);
    console.info(`acceptance ${(accepted / drafted).toFixed(3)}; χ² vs target ${vsTarget.stat.toFixed(1)} (df ${vsTarget.df}, critical ${chi2Critical(vsTarget.df).toFixed(1)}); vs 0.8·target + 0.2·draft ${vsDraft.stat.toFixed(1)}`);
    expect(vsTarget.df).toBeGreaterThanOrEqual(3);
    expect(vsTarget.stat).toBeLessThan(chi2Critical(vsTarget.df));
        expect(vsDraft.stat).toBeGreaterThan(chi2Critical(Math.max(vsDraft.df, 1)));
  });
});
