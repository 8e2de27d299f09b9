import { describe, expect, test } from 'vitest';
import { Rng } from '../../src/model/rng.js';

/**
 * Reference streams of the generator, computed outside this code base: a Python transcription of Vigna's
 * xoshiro128** reference C code (prng.di.unimi.it/xoshiro128starstar.c), its state seeded by four outputs of
 * splitmix32 (z += 0x9e3779b9; z ^= z >> 16; z *= 0x21f0aaad; z ^= z >> 15; z *= 0x735a2d97; z ^ z >> 15), and
 * next() = ((a >> 5)·2^26 + (b >> 6)) / 2^53 of two draws (MT19937's genrand_res53). Any change to the
 * rotations, shifts, constants or the order of the state updates changes these numbers.
 */
const U32: Record<number, number[]> = {
  0: [1789933344, 44971166, 2521387044, 3848737593, 1138324114, 749234105],
  1: [393288148, 2174103013, 3814759091, 2092745082, 1865176206, 2179171167],
  42: [660444221, 3652823732, 77672526, 910233633, 2297337756, 3786072677],
  4294967295: [4104197751, 1825856343, 1152209388, 2427537429, 3685145430, 609215610],
};

describe('Rng (xoshiro128** seeded by splitmix32)', () => {
  test('nextU32 equals the reference stream for seeds 0, 1, 42 and 2^32 − 1', () => {
    for (const [seed, want] of Object.entries(U32)) {
      const r = new Rng(Number(seed));
      expect(Array.from({ length: want.length }, () => r.nextU32())).toEqual(want);
    }
  });

  test('next() is the 53-bit double made of two draws, as the reference', () => {
    const r = new Rng(7);
    expect([r.next(), r.next(), r.next()]).toEqual([0.049009592574554284, 0.9298532154569821, 0.3972365680289133]);
  });

  test('the default seed is 0 and seeds are taken modulo 2^32', () => {
    expect(new Rng().nextU32()).toBe(U32[0]![0]);
    expect(new Rng(2 ** 32 + 42).nextU32()).toBe(U32[42]![0]);
    expect(new Rng(-1).nextU32()).toBe(U32[4294967295]![0]);
  });
});
