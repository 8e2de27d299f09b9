import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import type { ArchConfig } from '../../src/tensor/bundle.js';
import { runTraining } from '../../src/train/loop.js';
import { crossEntropy, nextTokenTargets } from '../../src/train/losses/cross-entropy.js';
import { curriculumOrder, distillRun, type LogitsSource, meanCrossEntropy } from '../../src/train/distill/run.js';
import { requireSameVocab, vocabDifference, vocabOf } from '../../src/train/distill/tokenizer-check.js';
import { BigramModel, cyclicData } from './train-bigram.js';
import { fixture } from '../helpers.js';

const V = 12;

/** The loop's bigram test model with the vocab size in its config (the distillation run reads it). */
class Bigram extends BigramModel {
  override readonly config = { vocab_size: V } as ArchConfig;
}

/** A fixed bigram teacher: next token t+1 (mod V) strongly preferred, t+2 less. */
function teacher(calls: { n: number } = { n: 0 }): LogitsSource & { table: (t: number) => Float32Array } {
  const table = (t: number): Float32Array => {
    const row = new Float32Array(V).fill(-2);
    row[(t + 1) % V] = 3;
    row[(t + 2) % V] = 1.5;
    return row;
  };
  return {
    table,
    logitsAll(tokens) {
      calls.n++;
      const out = new Float32Array(tokens.length * V);
      for (let p = 0; p < tokens.length; p++) out.set(table(tokens[p] as number), p * V);
      return out;
    },
  };
}

const OPTS = { epochs: 4, batchSize: 2, gradAccum: 1, lr: 0.1, warmupRatio: 0, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 0, seed: 3 };

/** Mean KL(teacher ‖ student) per row at T = 1 over all V contexts: how far the student is from the teacher. */
function tableKl(student: Bigram, t: ReturnType<typeof teacher>): number {
  let kl = 0;
  for (let c = 0; c < V; c++) {
    const sl = student.logits([c]);
    const tl = t.table(c);
    const ls = (x: Float32Array): number[] => {
      const m = Math.max(...x);
      const z = Math.log(x.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
      return Array.from(x, (v) => v - z);
    };
    const a = ls(tl), b = ls(sl);
    kl += a.reduce((s, la, i) => s + Math.exp(la) * (la - (b[i] as number)), 0);
  }
  return kl / V;
}

describe('distillation run (bigram student and teacher)', () => {
  it('moves the student towards the teacher: KL over all contexts falls at least 5×', () => {
    const student = new Bigram(V, 5), t = teacher();
    const data = cyclicData(24, 10, V, 1);
    const before = tableKl(student, t);
    const history = runTraining(distillRun({ student, teachers: [t], train: data, val: data.slice(0, 4), settings: { strategy: 'standard', temperature: 2, alpha: 1 }, options: OPTS }));
    const after = tableKl(student, t);
    expect(history).toHaveLength(4);
    expect(after).toBeLessThan(before / 5);
    // α = 1 ignores the data's own next tokens: the train metric ce is reported, the KL term falls epoch over epoch.
    expect(history[3]?.metrics['kl']).toBeLessThan(history[0]?.metrics['kl'] ?? 0);
    expect(history[0]?.valMetrics['kl']).toBeGreaterThan(0);
  });

  it('ensemble: the student moves towards the mean of two teachers\' distributions, not towards either one', () => {
    const a = teacher();
    const shifted: LogitsSource = { logitsAll: (tokens) => a.logitsAll(Array.from(tokens, (t) => (t + 3) % V)) };
    const mixture = (c: number): Float32Array => {
      const la = a.table(c), lb = a.table((c + 3) % V);
      const sm = (x: Float32Array): number[] => {
        const e = Array.from(x, Math.exp), s = e.reduce((p, q) => p + q, 0);
        return e.map((v) => v / s);
      };
      const pa = sm(la), pb = sm(lb);
      return Float32Array.from(pa, (p, i) => Math.log((p + (pb[i] as number)) / 2));
    };
    const student = new Bigram(V, 5);
    const data = cyclicData(24, 10, V, 1);
    runTraining(distillRun({ student, teachers: [a, shifted], train: data, val: [], settings: { strategy: 'ensemble', temperature: 1, alpha: 1 }, options: { ...OPTS, epochs: 6 } }));
    const toMix = tableKl(student, { table: mixture, logitsAll: (t) => a.logitsAll(t) });
    const toA = tableKl(student, a);
    expect(toMix).toBeLessThan(0.1);
    expect(toA).toBeGreaterThan(3 * toMix);
  });

  it('caches teacher distributions: the teacher runs once per window over all epochs', () => {
    const calls = { n: 0 };
    const data = cyclicData(8, 6, V, 2);
    runTraining(distillRun({ student: new Bigram(V), teachers: [teacher(calls)], train: data, val: [], settings: { strategy: 'standard', temperature: 2, alpha: 0.5 }, options: { ...OPTS, epochs: 3 } }));
    expect(calls.n).toBe(8);
    const uncached = { n: 0 };
    runTraining(distillRun({ student: new Bigram(V), teachers: [teacher(uncached)], train: data, val: [], settings: { strategy: 'standard', temperature: 2, alpha: 0.5, cacheBytes: 0 }, options: { ...OPTS, epochs: 3 } }));
    expect(uncached.n).toBe(24);
  });

  it('with α = 0 never runs the teacher (plain cross-entropy)', () => {
    const calls = { n: 0 };
    const data = cyclicData(6, 6, V, 2);
    const h = runTraining(distillRun({ student: new Bigram(V), teachers: [teacher(calls)], train: data, val: data, settings: { strategy: 'standard', temperature: 2, alpha: 0 }, options: OPTS }));
    expect(calls.n).toBe(0);
    expect(h[3]?.valLoss).toBeLessThan(h[0]?.valLoss ?? 0);
  });

  it('progressive: every epoch presents the windows from easy to hard by the teacher\'s loss [ob:distill-curriculum-order]', () => {
    const t = teacher();
    const data = cyclicData(10, 8, V, 4);
    const losses = data.map((w) => crossEntropy({ logits: t.logitsAll(w), targets: nextTokenTargets(w), vocab: V }).loss);
    const order = losses.map((l, i) => [l, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map(([, i]) => i);
    for (let i = 1; i < order.length; i++) expect(losses[order[i] as number]).toBeGreaterThanOrEqual(losses[order[i - 1] as number] as number);
    const student = new Bigram(V);
    const seen: ArrayLike<number>[] = [];
    const forward = student.forward.bind(student);
    student.forward = (tokens) => (seen.push(tokens), forward(tokens));
    runTraining(distillRun({ student, teachers: [t], train: data, val: [], settings: { strategy: 'progressive', temperature: 2, alpha: 0.5 }, options: { ...OPTS, epochs: 2 } }));
    const expected = [...order, ...order].map((i) => data[i]);
    expect(seen).toHaveLength(20);
    seen.forEach((s, i) => expect(s).toBe(expected[i]));
  });

  it('reports true perplexities: trainPpl = exp(token-weighted mean CE of the student), not exp of the mixed loss', () => {
    // lr 0: the student does not move, so the epoch's running means equal the frozen student's.
    const data = [...cyclicData(5, 9, V, 5), ...cyclicData(3, 4, V, 6)];
    const val = cyclicData(4, 7, V, 7);
    const student = new Bigram(V, 2);
    const [h] = runTraining(distillRun({ student, teachers: [teacher()], train: data, val, settings: { strategy: 'standard', temperature: 3, alpha: 0.7 }, options: { ...OPTS, epochs: 1, lr: 0 } }));
    const ce = (ws: Int32Array[]): number => meanCrossEntropy(ws.map((w) => ({ logits: student.logits(w), tokens: w })), V);
    expect(h?.trainPpl).toBeCloseTo(Math.exp(ce(data)), 6);
    expect(h?.valPpl).toBeCloseTo(Math.exp(ce(val)), 6);
    expect(Math.abs(Math.log(h?.trainPpl ?? NaN) - (h?.trainLoss ?? NaN))).toBeGreaterThan(0.1);
    // meanCrossEntropy weights by scored tokens: a 9-token window counts 8 positions, a 4-token one 3.
    const one = (w: Int32Array): number => crossEntropy({ logits: student.logits(w), targets: nextTokenTargets(w), vocab: V }).loss;
    const [a, b] = [data[0] as Int32Array, data[5] as Int32Array];
    expect(ce([a, b])).toBeCloseTo((8 * one(a) + 3 * one(b)) / 11, 10);
  });

  it('curriculumOrder sorts ascending and keeps ties in order', () => {
    expect(curriculumOrder([3, 1, 2, 1])).toEqual([1, 3, 2, 0]);
  });
});

describe('teacher and student must share one vocabulary [ob:distill-vocab-refused]', () => {
  const json = readFileSync(fixture('models/tiny-coder-llama/tokenizer.json'), 'utf8');

  it('accepts the two fixture models (one tokenizer) and reads all 4096 ids', () => {
    const draft = readFileSync(fixture('models/tiny-draft-llama/tokenizer.json'), 'utf8');
    expect(vocabOf({ json }).size).toBe(4096);
    expect(() => requireSameVocab('teacher', { json }, 'student', { json: draft })).not.toThrow();
  });

  it('refuses one renamed token, naming the token and the field', () => {
    const doc = JSON.parse(json) as { model: { vocab: Record<string, number> } };
    const [tok, id] = Object.entries(doc.model.vocab)[500] ?? ['', 0];
    delete doc.model.vocab[tok];
    doc.model.vocab[`${tok}X`] = id;
    const changed = { json: JSON.stringify(doc) };
    expect(vocabDifference(vocabOf({ json }), vocabOf(changed))).toContain(JSON.stringify(tok));
    expect(() => requireSameVocab('t.apr', { json }, 's.apr', changed)).toThrow(FormatError);
    expect(() => requireSameVocab('t.apr', { json }, 's.apr', changed)).toThrow(/s\.apr.*tokenizer\.json vocab/);
  });

  it('refuses a student without a tokenizer', () => {
    expect(() => requireSameVocab('t', { json }, 's', undefined)).toThrow(/s: tokenizer/);
  });
});
