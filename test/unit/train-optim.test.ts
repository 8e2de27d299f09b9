import { describe, expect, it } from 'vitest';
import { AdamW } from '../../src/train/optim/adamw.js';
import { clipGradNorm, globalGradNorm } from '../../src/train/optim/clip.js';
import { cosineLr, warmupSteps } from '../../src/train/optim/schedule.js';
import type { TrainParam } from '../../src/train/types.js';

function param(name: string, shape: number[], data: number[]): TrainParam {
  return { name, shape, data: Float32Array.from(data), grad: new Float32Array(data.length) };
}

/** AdamW written out by hand in float64 from Loshchilov & Hutter / torch.optim.AdamW's documentation. */
function handAdamW(p0: number[], grads: number[][], lr: number[], wd: number): number[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const p = [...p0];
  const m = p.map(() => 0), v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let j = 0; j < p.length; j++) {
      p[j] = p[j]! - lr[s]! * wd * p[j]!;
      m[j] = b1 * m[j]! + (1 - b1) * g[j]!;
      v[j] = b2 * v[j]! + (1 - b2) * g[j]! ** 2;
      const mh = m[j]! / (1 - b1 ** t), vh = v[j]! / (1 - b2 ** t);
      p[j] = p[j]! - (lr[s]! * mh) / (Math.sqrt(vh) + eps);
    }
  });
  return p;
}

describe('AdamW', () => {
  // Tolerance 1e-6 absolute: the optimizer keeps its moments and parameters in float32 (as torch does);
  // three steps of rounding at |p| ≤ 2 stay well under 1e-6.
  it('[ob:finetune-adamw-formula] three steps match the hand-computed formula with decoupled weight decay (matrix) and none (vector)', () => {
    const w = param('w', [2, 2], [1, -2, 0.5, 0.0]);
    const b = param('b', [2], [0.3, -0.7]);
    const opt = new AdamW([w, b], { weightDecay: 0.1 });
    const gw = [[0.5, 0.1, -0.3, 2.0], [0.4, -0.2, -0.1, 1.0], [-1, 0, 0.2, 0.5]];
    const gb = [[1, -1], [0.5, 0.25], [-0.5, 2]];
    const lrs = [0.1, 0.05, 0.02];
    lrs.forEach((lr, s) => {
      w.grad.set(gw[s]!);
      b.grad.set(gb[s]!);
      opt.step(lr);
    });
    const wantW = handAdamW([1, -2, 0.5, 0.0], gw, lrs, 0.1);
    const wantB = handAdamW([0.3, -0.7], gb, lrs, 0);
    wantW.forEach((x, j) => expect(Math.abs(w.data[j]! - x)).toBeLessThan(1e-6));
    wantB.forEach((x, j) => expect(Math.abs(b.data[j]! - x)).toBeLessThan(1e-6));
    // the decay is decoupled: with zero gradient a matrix shrinks by exactly (1 − lr·λ), Adam adds nothing
    const z = param('z', [1, 2], [2, -4]);
    const opt2 = new AdamW([z], { weightDecay: 0.5 });
    opt2.step(0.1);
    expect(Array.from(z.data)).toEqual([2 * 0.95, -4 * 0.95].map(Math.fround));
  });

  it('the first step moves each weight by ≈ lr·sign(g) whatever the gradient scale (bias correction)', () => {
    const w = param('w', [1, 3], [0, 0, 0]);
    w.grad.set([1e-3, -50, 7]);
    new AdamW([w]).step(0.01);
    expect(Array.from(w.data).map((x) => Number(x.toFixed(6)))).toEqual([-0.01, 0.01, -0.01]);
  });
});

describe('cosine schedule with linear warmup', () => {
  const o = { lr: 2e-4, totalSteps: 100, warmupRatio: 0.1, minLrRatio: 0.1 };
  it('values at the landmarks', () => {
    expect(warmupSteps(o)).toBe(10);
    expect(cosineLr(0, o)).toBe(0);
    expect(cosineLr(5, o)).toBeCloseTo(1e-4, 15);
    expect(cosineLr(10, o)).toBeCloseTo(2e-4, 15);
    expect(cosineLr(55, o)).toBeCloseTo(2e-4 * (0.1 + 0.9 * 0.5), 15);
    expect(cosineLr(100, o)).toBeCloseTo(2e-5, 15);
    // transformers' get_cosine_schedule_with_warmup at step 30 of 100 with 10 warmup (ρ = 0):
    expect(cosineLr(30, { ...o, minLrRatio: 0 })).toBeCloseTo(2e-4 * 0.5 * (1 + Math.cos((Math.PI * 20) / 90)), 15);
  });
  it('no warmup starts at the peak and decreases monotonically', () => {
    const p = { ...o, warmupRatio: 0 };
    expect(cosineLr(0, p)).toBe(2e-4);
    for (let s = 1; s <= 100; s++) expect(cosineLr(s, p)).toBeLessThanOrEqual(cosineLr(s - 1, p));
  });
});

describe('global gradient-norm clipping', () => {
  it('scales all gradients together by max/(norm + 1e-6) above the threshold, leaves them below', () => {
    const a = param('a', [2], [0, 0]);
    const b = param('b', [1, 1], [0]);
    a.grad.set([3, 0]);
    b.grad.set([4]);
    expect(clipGradNorm([a, b], 10)).toBe(5);
    expect([...a.grad, ...b.grad]).toEqual([3, 0, 4]);
    expect(clipGradNorm([a, b], 1)).toBe(5);
    const f = 1 / (5 + 1e-6);
    expect(Math.abs(a.grad[0]! - 3 * f)).toBeLessThan(1e-7);
    expect(Math.abs(b.grad[0]! - 4 * f)).toBeLessThan(1e-7);
    expect(globalGradNorm([a, b])).toBeCloseTo(1, 6);
    a.grad.set([30, 40]);
    expect(clipGradNorm([a], 0)).toBe(50); // 0 = off
    expect(Array.from(a.grad)).toEqual([30, 40]);
  });
});
