/**
 * MinHash signatures and LSH band keys for near-duplicate detection. Shingles are the 53-bit keys of the
 * normalised token 5-grams (hash.ts; a text of 1–4 tokens is one shingle), folded to 32 bits. Hash function
 * i is x ↦ (a_i·x + b_i) mod 2^32 with a_i odd and a_i, b_i drawn from a PRNG seeded by `seed`, so
 * signatures are a function of (text, seed) only. A signature of bands·rows minima is cut into `bands`
 * bands of `rows` values; each band hashes to one 53-bit key. Two texts of Jaccard similarity J share at
 * least one band key with probability 1 − (1 − J^rows)^bands (for 4 × 8: 0.21 at J = 0.7, 0.89 at 0.9,
 * 0.99 at 0.95).
 */
import { gramKey, hashTokens, mix32, pack53, tokens } from './hash.js';

const SHINGLE = 5;

export interface MinHashParams {
  bands: number;
  rows: number;
  seed: number;
}

/** mulberry32: a small seeded PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class MinHasher {
  private readonly mulA: Uint32Array;
  private readonly addB: Uint32Array;

  constructor(readonly params: MinHashParams) {
    const k = params.bands * params.rows;
    const rand = mulberry32(params.seed);
    const u32 = (): number => Math.floor(rand() * 4294967296) >>> 0;
    this.mulA = Uint32Array.from({ length: k }, () => u32() | 1);
    this.addB = Uint32Array.from({ length: k }, u32);
  }

  /** The 32-bit shingles of a text (empty for a text without tokens). */
  shingles(text: string): Uint32Array {
    const h = hashTokens(tokens(text));
    const n = h.a.length;
    if (n === 0) return new Uint32Array(0);
    const width = Math.min(SHINGLE, n);
    const out = new Uint32Array(n - width + 1);
    for (let i = 0; i < out.length; i++) out[i] = mix32(gramKey(h, i, width) % 0x100000000);
    return out;
  }

  /** The MinHash signature (bands·rows values); empty shingles give an empty signature. */
  signature(shingles: Uint32Array): Uint32Array {
    const k = this.mulA.length;
    if (shingles.length === 0) return new Uint32Array(0);
    const sig = new Uint32Array(k).fill(0xffffffff);
    for (const x of shingles) {
      for (let i = 0; i < k; i++) {
        const v = (Math.imul(x, this.mulA[i] ?? 1) + (this.addB[i] ?? 0)) >>> 0;
        if (v < (sig[i] ?? 0)) sig[i] = v;
      }
    }
    return sig;
  }

  /** One 53-bit key per band (the band index is hashed in, so bands never collide with each other). */
  bandKeys(sig: Uint32Array): number[] {
    const { bands, rows } = this.params;
    if (sig.length === 0) return [];
    const keys: number[] = [];
    for (let b = 0; b < bands; b++) {
      let x = mix32(0x5bd1e995 ^ b);
      let y = mix32(0x1b873593 + b);
      for (let r = 0; r < rows; r++) {
        const v = sig[b * rows + r] ?? 0;
        x = mix32(Math.imul(x, 31) ^ v);
        y = mix32(Math.imul(y, 37) ^ (v + 0x27d4eb2f));
      }
      keys.push(pack53(x, y));
    }
    return keys;
  }
}
