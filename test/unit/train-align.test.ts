import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ArchConfig } from '../../src/tensor/bundle.js';
import { readPreferencePairs, tokenizePair, type TokenizedPair } from '../../src/train/align/data.js';
import { alignRun, evaluatePair, scorePair, withReference, type AlignSettings } from '../../src/train/align/run.js';
import { runTraining } from '../../src/train/loop.js';
import { BigramModel } from './train-bigram.js';
import { tempDir } from '../helpers.js';

const V = 10;

class Bigram extends BigramModel {
  override readonly config = { vocab_size: V } as ArchConfig;
}

/** Pairs whose chosen response follows t → t+1 and whose rejected response follows t → t+3 (mod V). */
function pairs(count: number, seed: number): TokenizedPair[] {
  let s = seed >>> 0;
  const next = (): number => ((s = (Math.imul(s, 22695477) + 1) >>> 0), s / 2 ** 32);
  return Array.from({ length: count }, () => {
    const start = Math.floor(next() * V);
    const prompt = [start, (start + 1) % V];
    const walk = (step: number): number[] => {
      const out = [...prompt];
      for (let i = 0; i < 5; i++) out.push(((out.at(-1) ?? 0) + step) % V);
      return out;
    };
    return { chosen: walk(1), rejected: walk(3), chosenFrom: 2, rejectedFrom: 2 };
  });
}

const OPTS = { epochs: 3, batchSize: 2, gradAccum: 1, lr: 0.05, warmupRatio: 0, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 0, seed: 1 };

function trained(settings: AlignSettings): { initial: number[]; history: ReturnType<typeof runTraining> } {
  const policy = new Bigram(V, 9);
  const train = withReference({ logitsAll: (t) => policy.logits(t) }, pairs(24, 1), V);
  const val = withReference({ logitsAll: (t) => policy.logits(t) }, pairs(8, 2), V);
  const initial = val.map((e) => evaluatePair(policy, e, settings).metrics?.['reward_margin'] ?? NaN);
  return { initial, history: runTraining(alignRun({ policy, train, val, settings, options: OPTS })) };
}

describe('alignment runs (bigram policy, the policy itself as frozen reference)', () => {
  it('DPO starts at margin 0, loss log 2, and raises the held-out margin and accuracy', () => {
    const { initial, history } = trained({ method: 'dpo', beta: 0.5, lambda: 0 });
    for (const m of initial) expect(Math.abs(m)).toBeLessThanOrEqual(1e-9);
    const first = history[0], last = history[2];
    expect(last?.valMetrics['reward_margin']).toBeGreaterThan(1);
    expect(last?.valMetrics['accuracy']).toBe(1);
    expect(last?.valLoss).toBeLessThan(Math.LN2 - 0.3);
    expect(last?.metrics['reward_margin']).toBeGreaterThan(first?.metrics['reward_margin'] ?? Infinity);
  });

  it('ORPO raises the held-out margin and accuracy and lowers the chosen NLL', () => {
    const { history } = trained({ method: 'orpo', beta: 0.5, lambda: 0.5 });
    const first = history[0], last = history[2];
    expect(last?.valMetrics['reward_margin']).toBeGreaterThan(0.5);
    expect(last?.valMetrics['accuracy']).toBe(1);
    expect(last?.valMetrics['odds_accuracy']).toBe(1);
    expect(last?.valMetrics['nll']).toBeLessThan(first?.valMetrics['nll'] ?? 0);
  });

  it('scorePair: ORPO derivatives are per token of each response', () => {
    const e = { chosen: [0, 1, 2], rejected: [0, 1, 2, 3], chosenFrom: 1, rejectedFrom: 1, refChosen: -3, refRejected: -4 };
    const s = scorePair(e, { logp: -2, tokens: 2 }, { logp: -3, tokens: 3 }, { method: 'orpo', beta: 0.1, lambda: 0 });
    // λ = 0: loss = mean NLL of the chosen response, its derivative −1 per mean → −1/2 per summed log-prob.
    expect(s.loss).toBe(1);
    expect(s.dChosen).toBe(-0.5);
    expect(s.dRejected).toBe(0);
    expect(s.metrics['reward_margin']).toBeCloseTo(0.1 * (-2 + 3 - (-3 + 4)), 12);
  });
});

describe('preference data', () => {
  const tok = { eosTokenId: 0, encode: (s: string) => Array.from(s, (c) => c.charCodeAt(0) - 96) };

  it('tokenizes prompt ++ response ++ EOS, scoring from the prompt\'s end', () => {
    const p = tokenizePair('f', 1, { prompt: 'ab', chosen: 'cd', rejected: 'e' }, tok, 16);
    expect(p).toEqual({ chosen: [1, 2, 3, 4, 0], rejected: [1, 2, 5, 0], chosenFrom: 2, rejectedFrom: 2 });
  });

  it('over max-seq-len keeps the prompt\'s last half and cuts the response', () => {
    const p = tokenizePair('f', 1, { prompt: 'abcdefgh', chosen: 'ijkl', rejected: 'm' }, tok, 6);
    expect(p.chosen).toEqual([6, 7, 8, 9, 10, 11]);
    expect(p.chosenFrom).toBe(3);
    expect(p.rejected).toEqual([6, 7, 8, 13, 0]);
  });

  it('names the file, line and field of a record without "rejected"', () => {
    const t = tempDir();
    try {
      const f = join(t.dir, 'p.jsonl');
      writeFileSync(f, '{"prompt":"a","chosen":"b","rejected":"c"}\n{"prompt":"a","chosen":"b"}\n');
      expect(() => readPreferencePairs(f)).toThrow(/p\.jsonl:2.*rejected/);
    } finally {
      t.cleanup();
    }
  });
});
