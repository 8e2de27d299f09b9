import * as zlib from 'node:zlib';

/**
 * CRC-32/IEEE (reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF), the checksum of zlib, PNG
 * and aprender's APR v2. All functions take and return the finished (post-xor) value, so
 * `crc32(b, crc32(a)) === crc32(a ++ b)`.
 */
const POLY = 0xedb88320;

/** Slicing-by-8 tables: TABLES[k][b] is the CRC register after feeding byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0] as Uint32Array;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1] as Uint32Array;
    const cur = tables[k] as Uint32Array;
    for (let n = 0; n < 256; n++) {
      const p = prev[n] as number;
      cur[n] = (t0[p & 0xff] as number) ^ (p >>> 8);
    }
  }
  return tables;
})();

/** Portable implementation (slicing-by-8); used where Node lacks `zlib.crc32` (before 20.15 / 22.2). */
export function crc32Portable(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (c ^ ((bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24))) >>> 0;
    c =
      (t7[a & 0xff] as number) ^
      (t6[(a >>> 8) & 0xff] as number) ^
      (t5[(a >>> 16) & 0xff] as number) ^
      (t4[a >>> 24] as number) ^
      (t3[bytes[i + 4] as number] as number) ^
      (t2[bytes[i + 5] as number] as number) ^
      (t1[bytes[i + 6] as number] as number) ^
      (t0[bytes[i + 7] as number] as number);
    i += 8;
  }
  for (; i < n; i++) c = (t0[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `bytes`, continuing from the CRC `crc` of the bytes before them (0 for none). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  return nativeCrc32 ? nativeCrc32(bytes, crc) >>> 0 : crc32Portable(bytes, crc);
}

/** Incremental CRC-32 over a byte stream fed in pieces. */
export class Crc32 {
  private crc = 0;
  private count = 0;

  update(bytes: Uint8Array): this {
    this.crc = crc32(bytes, this.crc);
    this.count += bytes.byteLength;
    return this;
  }

  /** Bytes fed so far. */
  get length(): number {
    return this.count;
  }

  digest(): number {
    return this.crc;
  }
}

function gf2Times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i] as number;
  return sum >>> 0;
}

function gf2Square(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(mat, mat[n] as number);
}

/**
 * CRC of `A ++ B` from `crcA = crc32(A)`, `crcB = crc32(B)` and `lengthB = |B|`, in O(log |B|) (zlib's
 * crc32_combine: appending |B| zero bytes to A is a linear map over GF(2), applied by repeated squaring).
 * Lets a writer patch an early section after streaming the rest and still produce the whole-file CRC.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`crc32Combine: bad length ${lengthB}`);
  if (lengthB === 0) return crcA >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = POLY;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row;
  gf2Square(even, odd); // operator for two zero bits
  gf2Square(odd, even); // four zero bits
  let crc = crcA >>> 0;
  let len = lengthB;
  for (;;) {
    gf2Square(even, odd);
    if (len % 2 === 1) crc = gf2Times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    gf2Square(odd, even);
    if (len % 2 === 1) crc = gf2Times(odd, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
  }
  return (crc ^ crcB) >>> 0;
}
