/**
 * Hashing for `apr data`: normalised tokens, 53-bit n-gram keys (two independent 32-bit lanes packed into a
 * safe integer), and KeyTable, a compact open-addressing map from such keys to a 32-bit value kept in typed
 * arrays (12 bytes a slot, load factor at most 0.6), so per-row state costs bytes, not JS objects.
 *
 * Normalisation: text is lower-cased and split into tokens, each a run of letters, digits and `_`, or one
 * other non-space character; whitespace only separates tokens. So `def  F(x):` and `def f( x ) :` give the
 * same tokens, and whitespace or case variations never change an n-gram.
 */

const TOKEN = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;

/** The normalised tokens of `text` (see the header). */
export function tokens(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

/** FNV-1a over UTF-16 code units, with a seed. */
function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** murmur3's 32-bit finaliser. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const LANE_B = 0x9747b28c;

/** Two 32-bit hashes per token (lanes a and b). */
export interface TokenHashes {
  a: Uint32Array;
  b: Uint32Array;
}

export function hashTokens(toks: readonly string[]): TokenHashes {
  const a = new Uint32Array(toks.length);
  const b = new Uint32Array(toks.length);
  toks.forEach((t, i) => {
    a[i] = fnv1a(t);
    b[i] = fnv1a(t, LANE_B);
  });
  return { a, b };
}

/** Packs two 32-bit lanes into a non-zero 53-bit safe integer. */
export function pack53(a: number, b: number): number {
  return (a >>> 0) * 2 ** 21 + ((b >>> 11) | 1);
}

/** The 53-bit key of tokens [start, start + n) of `h`. */
export function gramKey(h: TokenHashes, start: number, n: number): number {
  let a = 0x3c6ef372;
  let b = 0xa54ff53a;
  for (let i = start; i < start + n; i++) {
    a = mix32(Math.imul(a, 31) ^ (h.a[i] ?? 0));
    b = mix32(Math.imul(b, 37) ^ (h.b[i] ?? 0));
  }
  return pack53(a, b);
}

/** The keys of every n-gram of the token sequence (none when it has fewer than n tokens). */
export function gramKeys(h: TokenHashes, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + n <= h.a.length; i++) out.push(gramKey(h, i, n));
  return out;
}

/** Open-addressing map from non-zero 53-bit keys to uint32 values in typed arrays (see the header). */
export class KeyTable {
  private keys: Float64Array;
  private values: Uint32Array;
  private mask: number;
  size = 0;

  constructor(initialCapacity = 1 << 12) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.keys = new Float64Array(cap);
    this.values = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  private slot(key: number): number {
    let i = mix32((key % 0x100000000) ^ Math.floor(key / 0x100000000)) & this.mask;
    while (this.keys[i] !== 0 && this.keys[i] !== key) i = (i + 1) & this.mask;
    return i;
  }

  /** The value stored for `key`, or undefined. */
  get(key: number): number | undefined {
    const i = this.slot(key);
    return this.keys[i] === key ? this.values[i] : undefined;
  }

  /** Stores `value` for `key` unless the key is present; returns false when it was. */
  add(key: number, value = 0): boolean {
    const i = this.slot(key);
    if (this.keys[i] === key) return false;
    this.keys[i] = key;
    this.values[i] = value;
    this.size++;
    if (this.size > this.keys.length * 0.6) this.grow();
    return true;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.values = new Uint32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j] ?? 0;
      if (k !== 0) {
        const i = this.slot(k);
        this.keys[i] = k;
        this.values[i] = oldValues[j] ?? 0;
      }
    }
  }
}

/** The 53-bit key of a whole normalised text (for exact-duplicate detection). */
export function textKey(text: string): number {
  const h = hashTokens(tokens(text));
  return h.a.length === 0 ? pack53(fnv1a(text), fnv1a(text, LANE_B)) : gramKey(h, 0, h.a.length);
}
