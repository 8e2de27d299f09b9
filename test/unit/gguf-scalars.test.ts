import { describe, expect, it } from 'vitest';
import { encodeGgufHeader, parseGguf, type GgufValue } from '../../src/formats/gguf/index.js';

/** Each scalar type at its extremes, with its little-endian bytes written by Node's Buffer (an independent encoder). */
const CASES: [GgufValue, (b: Buffer) => void, number][] = [
  [{ type: 'u8', value: 255 }, (b) => b.writeUInt8(255), 1],
  [{ type: 'i8', value: -128 }, (b) => b.writeInt8(-128), 1],
  [{ type: 'bool', value: true }, (b) => b.writeUInt8(1), 1],
  [{ type: 'u16', value: 65535 }, (b) => b.writeUInt16LE(65535), 2],
  [{ type: 'i16', value: -32768 }, (b) => b.writeInt16LE(-32768), 2],
  [{ type: 'u32', value: 4294967295 }, (b) => b.writeUInt32LE(4294967295), 4],
  [{ type: 'i32', value: -2147483648 }, (b) => b.writeInt32LE(-2147483648), 4],
  [{ type: 'f32', value: 0.1 }, (b) => b.writeFloatLE(0.1), 4],
  [{ type: 'f64', value: 0.1 }, (b) => b.writeDoubleLE(0.1), 8],
  [{ type: 'u64', value: 18446744073709551615n }, (b) => b.writeBigUInt64LE(18446744073709551615n), 8],
  [{ type: 'i64', value: -9223372036854775808n }, (b) => b.writeBigInt64LE(-9223372036854775808n), 8],
];

function header(key: string, v: GgufValue): Uint8Array {
  return encodeGgufHeader(new Map([[key, v]]), []).header;
}

describe('GGUF header writer: scalar KV values', () => {
  it('writes each scalar type as its little-endian bytes right after the key and type id, and reads it back', () => {
    for (const [v, write, width] of CASES) {
      const bytes = header('k', v);
      // magic u32, version u32, tensor count u64, kv count u64, key (u64 length + 'k'), type u32 = 37 bytes
      const want = Buffer.alloc(width);
      write(want);
      expect([...bytes.subarray(37, 37 + width)], v.type).toEqual([...want]);
      const got = parseGguf(bytes).kv.get('k');
      expect(got?.type, v.type).toBe(v.type);
      if (v.type === 'f32') expect(got?.value).toBe(Math.fround(0.1));
      else expect(got?.value, v.type).toEqual(v.value);
    }
  });

  it('rejects integers outside the type, non-integers and non-numbers for the ≤ 32-bit integer types', () => {
    const bad: [GgufValue & { value: number }, string][] = [
      [{ type: 'u8', value: 256 }, '256'], [{ type: 'i8', value: 128 }, '128'], [{ type: 'u16', value: -1 }, '-1'], [{ type: 'i16', value: 32768 }, '32768'],
      [{ type: 'u32', value: 2 ** 32 }, '4294967296'], [{ type: 'i32', value: -(2 ** 31) - 1 }, '-2147483649'], [{ type: 'u32', value: 1.5 }, '1.5'], [{ type: 'i32', value: Number.NaN }, 'NaN'],
    ];
    for (const [v, shown] of bad) expect(() => header('general.bad', v), `${v.type} ${shown}`).toThrow(new RangeError(`GGUF key 'general.bad': ${shown} is not a valid ${v.type}`));
  });

  it('writes arrays of scalars element by element', () => {
    const v: GgufValue = { type: 'array', itemType: 'i16', value: [-2, 3] };
    const kv = parseGguf(header('a', v)).kv.get('a');
    expect(kv).toEqual(v);
  });
});
