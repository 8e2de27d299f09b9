import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arceeFusion, arceeFusionMerge, fusionImportance, fusionThreshold } from '../../../src/train/merge/arcee-fusion.js';
import { bits, job, vec } from './helpers.js';

/** mergekit's importance from scratch: |b − a| · KL(softmax(b_row) + 1e-8 ‖ softmax(a_row) + 1e-8), per row. */
function importanceRef(a: Float32Array, b: Float32Array, cols: number): number[] {
  const softmax = (xs: number[]) => {
    const m = Math.max(...xs);
    const e = xs.map((x) => Math.exp(x - m));
    const s = e.reduce((t, v) => t + v, 0);
    return e.map((v) => v / s + 1e-8);
  };
  const out: number[] = [];
  for (let r = 0; r < a.length / cols; r++) {
    const ar = Array.from(a.subarray(r * cols, (r + 1) * cols));
    const br = Array.from(b.subarray(r * cols, (r + 1) * cols));
    const p = softmax(br);
    const q = softmax(ar);
    const kl = p.reduce((s, pi, j) => s + pi * Math.log(pi / (q[j] as number)), 0);
    br.forEach((bv, j) => out.push(Math.abs(bv - (ar[j] as number)) * kl));
  }
  return out;
}

/** median + 1.5 IQR with mergekit's quantile index ⌊q (n − 1)⌋ into the sorted scores. */
function thresholdRef(scores: number[]): number {
  const s = [...scores].sort((x, y) => x - y);
  const at = (q: number) => s[Math.floor(q * (s.length - 1))] as number;
  return at(0.5) + 1.5 * (at(0.75) - at(0.25));
}

describe('arcee_fusion (merge-arcee-fusion-v1)', () => {
  it('takes exactly the entries whose importance reaches median + 1.5·IQR [ob:arcee-fusion-threshold]', () => {
    fc.assert(fc.property(vec(48), vec(48), fc.array(fc.nat(47), { maxLength: 20 }), (a, b0, same) => {
      const b = Float32Array.from(b0);
      for (const i of same) b[i] = a[i] as number; // some unchanged entries, as in a fine-tune
      const out = arceeFusionMerge(job(a, [b], {}, [{}], { shape: [6, 8] }));
      const scores = importanceRef(a, b, 8);
      const tau = thresholdRef(scores);
      out.forEach((o, i) => {
        // each score is computed here and by the method in float64 in another order: skip scores within 1e-12 of τ
        if (Math.abs((scores[i] as number) - tau) <= 1e-12 * Math.max(1, Math.abs(tau))) return;
        expect(Object.is(o, (scores[i] as number) >= tau ? b[i] : a[i]), `entry ${i}`).toBe(true);
      });
    }));
  });

  it('a worked example: τ = 0 when most entries are unchanged; large moves only when most entries move [ob:arcee-fusion-threshold]', () => {
    const a = Float32Array.from([0, 1, 2, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0.5, -0.5, 0.25, 0]);
    // only rows 0 and 3 change: 3 of 16 scores are positive, so median = q1 = q3 = 0 (indices 7, 3 and 11 of the
    // sorted scores) and τ = 0: every entry clears it and the output is the other model
    const b = Float32Array.from(a);
    b[1] = 1.01;
    b[12] = 3;
    b[13] = -2;
    expect(thresholdRef(importanceRef(a, b, 4))).toBe(0);
    expect(Array.from(arceeFusionMerge(job(a, [b], {}, [{}], { shape: [4, 4] })))).toEqual(Array.from(b));
    // every entry moves: rows 0–2 by 0.001–0.003, row 3 by +4 and −3 in two entries; only those two clear τ
    const c = Float32Array.from(a, (v, i) => v + (i >= 12 ? ([4, -3, 0, 0][i - 12] as number) : 0.001 * ((i % 3) + 1)));
    const scores = importanceRef(a, c, 4);
    const tau = thresholdRef(scores);
    expect(scores.flatMap((sc, i) => (sc >= tau ? [i] : []))).toEqual([12, 13]);
    const fused = arceeFusionMerge(job(a, [c], {}, [{}], { shape: [4, 4] }));
    expect(Array.from(fused)).toEqual(Array.from(a, (v, i) => (i === 12 || i === 13 ? (c[i] as number) : v)));
  });

  it('returns each entry from the base or the other model, bit for bit [ob:arcee-fusion-entries-from-inputs]', () => {
    fc.assert(fc.property(vec(40), vec(40), (a, b) => {
      const out = arceeFusionMerge(job(a, [b], {}, [{}], { shape: [5, 8] }));
      const [o, ua, ub] = [out, a, b].map(bits) as [number[], number[], number[]];
      o.forEach((v, i) => expect(v === ua[i] || v === ub[i]).toBe(true));
    }));
  });

  it('above 10⁶ entries samples the quantiles from the seed: same seed, same output [ob:arcee-fusion-seeded]', () => {
    const n = 1001 * 1000;
    const a = Float32Array.from({ length: n }, (_v, i) => Math.sin(i * 0.37));
    const b = Float32Array.from(a, (v, i) => v + 0.01 * Math.sin(i * 1.91) * ((i % 7) === 0 ? 10 : 1));
    const run = (seed: number) => arceeFusionMerge(job(a, [b], {}, [{}], { shape: [1001, 1000], seed }));
    const first = run(5);
    const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    expect(same(run(5), first)).toBe(true);
    // the sampled threshold is close to the one of all scores (the formula itself is checked on small tensors
    // above, so the method's own score function serves here): the masks differ on under 0.5 % of the entries
    const scores = fusionImportance(a, b, 1000);
    const tau = fusionThreshold(Float64Array.from(scores).sort());
    let differ = 0;
    scores.forEach((s, i) => (differ += Number((s >= tau) !== (first[i] === b[i] && a[i] !== b[i]))));
    expect(differ / n).toBeLessThan(0.005);
  });

  it('merges a model equal to the base into the base, bit for bit; no parameters [ob:arcee-fusion-self-identity]', () => {
    fc.assert(fc.property(vec(24), (x) => {
      expect(bits(arceeFusionMerge(job(x, [Float32Array.from(x)], {}, [{}], { shape: [3, 8] })))).toEqual(bits(x));
    }));
    expect(arceeFusion.params).toEqual([]);
  });
});
