import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { klDistillLoss, teacherDistribution } from '../../src/train/losses/kl-distill.js';
import { dpoLoss, orpoLoss, sequenceLogProb } from '../../src/train/losses/preference.js';

/** Naive float64 softmax of one row (the definition, independent of the stable log-sum-exp in src). */
function softmax(row: ArrayLike<number>, scale = 1): number[] {
  const e = Array.from(row, (v) => Math.exp(v * scale));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const H = 1e-2;
/** Central difference of f at coordinate j of x, using the f32-rounded perturbed values as the real step. */
function centralDiff(x: Float32Array, j: number, f: () => number): number {
  const x0 = x[j] as number;
  x[j] = x0 + H;
  const up = x[j];
  const fu = f();
  x[j] = x0 - H;
  const down = x[j];
  const fd = f();
  x[j] = x0;
  return (fu - fd) / (up - down);
}

/** Gradient tolerance: truncation error h²/6·|f‴| of a log-softmax with T ≥ 0.7 stays well under 2e-4. */
function closeGrad(an: number, fd: number): boolean {
  return Math.abs(an - fd) <= 2e-4 + 1e-3 * Math.abs(an);
}

const logits = (len: number): fc.Arbitrary<Float32Array> =>
  fc.array(fc.float({ min: -3, max: 3, noNaN: true, noDefaultInfinity: true }), { minLength: len, maxLength: len }).map((a) => Float32Array.from(a));

const seqCase = fc.record({ V: fc.integer({ min: 2, max: 8 }), n: fc.integer({ min: 2, max: 5 }) }).chain(({ V, n }) =>
  fc.record({
    V: fc.constant(V),
    s: logits(n * V),
    t: logits(n * V),
    tokens: fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: n, maxLength: n }),
    T: fc.double({ min: 0.7, max: 5, noNaN: true }),
    alpha: fc.double({ min: 0, max: 1, noNaN: true }),
    j: fc.nat(),
  }));

describe('distillation loss (loss-kl-distill-v1)', () => {
  it('gradient equals central finite differences [ob:kd-gradient]', () => {
    fc.assert(fc.property(seqCase, ({ V, s, t, tokens, T, alpha, j }) => {
      const P = teacherDistribution([t], V, T);
      const opts = { vocab: V, temperature: T, alpha };
      const r = klDistillLoss(s, P, tokens, opts);
      for (const k of [j % s.length, (j * 7 + 3) % s.length]) {
        const fd = centralDiff(s, k, () => klDistillLoss(s, P, tokens, opts).loss);
        if (!closeGrad(r.dLogits[k] as number, fd)) return false;
      }
      return true;
    }), { numRuns: 300 });
  });

  it('vanishes when the student equals the teacher and α = 1 [ob:kd-zero-at-teacher]', () => {
    fc.assert(fc.property(seqCase, ({ V, s, tokens, T }) => {
      const r = klDistillLoss(s, teacherDistribution([s], V, T), tokens, { vocab: V, temperature: T, alpha: 1 });
      return Math.abs(r.loss) <= 1e-6 && r.dLogits.every((g) => Math.abs(g) <= 1e-6);
    }), { numRuns: 200 });
  });

  it('is T² times the hand KL, and its gradient does not vanish as T grows [ob:kd-t2-scaling]', () => {
    fc.assert(fc.property(seqCase, ({ V, s, t, tokens }) => {
      const rows = tokens.length - 1;
      for (const T of [20, 100]) {
        const teacher = teacherDistribution([t], V, T);
        const r = klDistillLoss(s, teacher, tokens, { vocab: V, temperature: T, alpha: 1 });
        let kl = 0;
        for (let p = 0; p < rows; p++) {
          // The hand KL takes the same f32 teacher rows the loss gets (renormalised), so only the T² is under test.
          const row = Array.from(teacher.subarray(p * V, (p + 1) * V));
          const z = row.reduce((a, b) => a + b, 0);
          const P = row.map((v) => v / z);
          const Q = softmax(s.subarray(p * V, (p + 1) * V), 1 / T);
          kl += P.reduce((a, pi, i) => a + pi * Math.log(pi / (Q[i] as number)), 0);
        }
        if (Math.abs(r.loss - (T * T * kl) / rows) > 1e-9 * Math.max(1, r.loss)) return false;
        if (T === 100) {
          // High-temperature limit (Hinton et al. §2.1): ∂/∂s_i → (s_i − s̄ − (t_i − t̄)) / (V·rows), with a relative
          // error O(max|x|/T) ≤ 3 % for |x| ≤ 3; 1e-5 absorbs T·(f32 rounding of the teacher's probabilities).
          let worst = 0, scale = 0;
          for (let p = 0; p < rows; p++) {
            const row = (x: Float32Array): number[] => Array.from(x.subarray(p * V, (p + 1) * V));
            const sr = row(s), tr = row(t);
            const sm = sr.reduce((a, b) => a + b, 0) / V, tm = tr.reduce((a, b) => a + b, 0) / V;
            for (let i = 0; i < V; i++) {
              const limit = ((sr[i] as number) - sm - ((tr[i] as number) - tm)) / (V * rows);
              worst = Math.max(worst, Math.abs((r.dLogits[p * V + i] as number) - limit));
              scale = Math.max(scale, Math.abs(limit));
            }
          }
          if (worst > 0.05 * scale + 1e-5) return false;
        }
      }
      return true;
    }), { numRuns: 200 });
  });

  it('α = 0 is the hand next-token cross-entropy [ob:kd-ce-limit]', () => {
    fc.assert(fc.property(seqCase, ({ V, s, t, tokens, T }) => {
      const r = klDistillLoss(s, teacherDistribution([t], V, T), tokens, { vocab: V, temperature: T, alpha: 0 });
      let ce = 0;
      for (let p = 0; p + 1 < tokens.length; p++) ce -= Math.log(softmax(s.subarray(p * V, (p + 1) * V))[tokens[p + 1] as number] as number);
      return Math.abs(r.loss - ce / (tokens.length - 1)) <= 1e-9 * Math.max(1, r.loss);
    }), { numRuns: 200 });
  });

  it('an ensemble is the mean of the softened teacher distributions [ob:kd-ensemble-mean]', () => {
    fc.assert(fc.property(seqCase, ({ V, s, t, T }) => {
      const P = teacherDistribution([s, t], V, T);
      for (let p = 0; p < s.length / V; p++) {
        const a = softmax(s.subarray(p * V, (p + 1) * V), 1 / T), b = softmax(t.subarray(p * V, (p + 1) * V), 1 / T);
        for (let i = 0; i < V; i++) if (Math.abs((P[p * V + i] as number) - ((a[i] as number) + (b[i] as number)) / 2) > 1e-7) return false;
      }
      return true;
    }), { numRuns: 200 });
  });

  it('rejects a temperature ≤ 0 (contract pre-condition)', () => {
    const s = new Float32Array(4);
    expect(() => klDistillLoss(s, s, [0, 1], { vocab: 2, temperature: 0, alpha: 0.5 })).toThrow(/T > 0/);
  });
});

const pairCase = fc.record({ V: fc.integer({ min: 2, max: 8 }), n: fc.integer({ min: 2, max: 5 }), m: fc.integer({ min: 2, max: 5 }) }).chain(({ V, n, m }) =>
  fc.record({
    V: fc.constant(V),
    w: logits(n * V),
    l: logits(m * V),
    wt: fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: n, maxLength: n }),
    lt: fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: m, maxLength: m }),
    refW: fc.double({ min: -20, max: -0.1, noNaN: true }),
    refL: fc.double({ min: -20, max: -0.1, noNaN: true }),
    beta: fc.double({ min: 0.05, max: 2, noNaN: true }),
    j: fc.nat(),
  }));

describe('sequence log-probability and preference losses (loss-preference-v1)', () => {
  it('log π is the hand sum and its gradient matches finite differences [ob:seqlogp-gradient] [ob:seqlogp-definition]', () => {
    fc.assert(fc.property(pairCase, ({ V, w, wt, j }) => {
      const r = sequenceLogProb(w, wt, 1, V);
      let hand = 0;
      for (let p = 1; p < wt.length; p++) hand += Math.log(softmax(w.subarray((p - 1) * V, p * V))[wt[p] as number] as number);
      if (Math.abs(r.logp - hand) > 1e-9 * Math.max(1, Math.abs(hand))) return false;
      const k = j % w.length;
      return closeGrad(r.dLogp[k] as number, centralDiff(w, k, () => sequenceLogProb(w, wt, 1, V).logp));
    }), { numRuns: 300 });
  });

  it('DPO gradient through both sequences matches finite differences [ob:dpo-gradient]', () => {
    fc.assert(fc.property(pairCase, ({ V, w, l, wt, lt, refW, refL, beta, j }) => {
      const loss = (): number => dpoLoss({ policyChosen: sequenceLogProb(w, wt, 1, V).logp, policyRejected: sequenceLogProb(l, lt, 1, V).logp, refChosen: refW, refRejected: refL, beta }).loss;
      const cw = sequenceLogProb(w, wt, 1, V), cl = sequenceLogProb(l, lt, 1, V);
      const r = dpoLoss({ policyChosen: cw.logp, policyRejected: cl.logp, refChosen: refW, refRejected: refL, beta });
      const kw = j % w.length, kl = j % l.length;
      return closeGrad(r.dChosen * (cw.dLogp[kw] as number), centralDiff(w, kw, loss))
        && closeGrad(r.dRejected * (cl.dLogp[kl] as number), centralDiff(l, kl, loss));
    }), { numRuns: 300 });
  });

  it('DPO at θ = ref is log 2 with zero margin [ob:dpo-log2-at-ref]', () => {
    fc.assert(fc.property(fc.double({ min: -200, max: 0, noNaN: true }), fc.double({ min: -200, max: 0, noNaN: true }), fc.double({ min: 0.01, max: 5, noNaN: true }), (a, b, beta) => {
      const r = dpoLoss({ policyChosen: a, policyRejected: b, refChosen: a, refRejected: b, beta });
      return Math.abs(r.loss - Math.LN2) <= 1e-12 && r.margin === 0 && Math.abs(r.dChosen + beta / 2) <= 1e-12;
    }));
  });

  it('ORPO on a hand example: chosen tokens at p = 1/2, rejected at p = 1/4 [ob:orpo-hand]', () => {
    // V = 4; chosen rows [ln 3, 0, 0, 0] give p(0) = 3/6 = 1/2; rejected rows are uniform, p = 1/4.
    // odds(1/2) = 1, odds(1/4) = 1/3, log odds ratio = ln 3, −log σ(ln 3) = ln(4/3); NLL = ln 2.
    const V = 4, lambda = 0.1;
    const chosen = new Float32Array(3 * V);
    for (let r = 0; r < 3; r++) chosen[r * V] = Math.log(3);
    const rejected = new Float32Array(4 * V);
    const w = sequenceLogProb(chosen, [2, 0, 0], 1, V), l = sequenceLogProb(rejected, [2, 3, 1, 0], 1, V);
    const r = orpoLoss({ chosenMean: w.logp / w.tokens, rejectedMean: l.logp / l.tokens, lambda });
    // f32 storage of ln 3 moves p by ~1e-8: tolerance 1e-6.
    expect(Math.abs(r.logOdds - Math.log(3))).toBeLessThan(1e-6);
    expect(Math.abs(r.loss - (Math.LN2 + lambda * Math.log(4 / 3)))).toBeLessThan(1e-6);
    expect(Math.abs(r.margin - lambda * (Math.log(0.5) - Math.log(0.25)))).toBeLessThan(1e-6);
  });

  it('ORPO gradient through both sequences matches finite differences [ob:orpo-gradient]', () => {
    fc.assert(fc.property(pairCase, ({ V, w, l, wt, lt, beta, j }) => {
      const mean = (x: Float32Array, t: number[]): { m: number; d: Float32Array; n: number } => {
        const r = sequenceLogProb(x, t, 1, V);
        return { m: r.logp / r.tokens, d: r.dLogp, n: r.tokens };
      };
      const loss = (): number => orpoLoss({ chosenMean: mean(w, wt).m, rejectedMean: mean(l, lt).m, lambda: beta }).loss;
      const cw = mean(w, wt), cl = mean(l, lt);
      const r = orpoLoss({ chosenMean: cw.m, rejectedMean: cl.m, lambda: beta });
      const kw = j % w.length, kl = j % l.length;
      return closeGrad((r.dChosen / cw.n) * (cw.d[kw] as number), centralDiff(w, kw, loss))
        && closeGrad((r.dRejected / cl.n) * (cl.d[kl] as number), centralDiff(l, kl, loss));
    }), { numRuns: 300 });
  });

  it('ORPO with λ = 0 is the chosen response\'s mean NLL', () => {
    const r = orpoLoss({ chosenMean: -1.25, rejectedMean: -0.5, lambda: 0 });
    expect(r.loss).toBe(1.25);
    expect(r.dChosen).toBe(-1);
    expect(r.dRejected).toBe(0);
  });
});
