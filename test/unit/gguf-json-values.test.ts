import { describe, expect, it } from 'vitest';
import { ggufTypeString, ggufValueFromJson, ggufValueToJson } from '../../src/formats/gguf/json-values.js';
import type { GgufValue } from '../../src/formats/gguf/types.js';

/** Values of every GGUF type, including 64-bit integers beyond 2^53 and nested arrays. */
const VALUES: GgufValue[] = [
  { type: 'u8', value: 255 },
  { type: 'i8', value: -128 },
  { type: 'u16', value: 65535 },
  { type: 'i16', value: -32768 },
  { type: 'u32', value: 4294967295 },
  { type: 'i32', value: -2147483648 },
  { type: 'f32', value: 0.5 },
  { type: 'f64', value: -1e300 },
  { type: 'u64', value: 18446744073709551615n },
  { type: 'i64', value: -9223372036854775808n },
  { type: 'u64', value: 7n },
  { type: 'bool', value: true },
  { type: 'string', value: 'llama' },
  { type: 'array', itemType: 'string', value: ['a', 'b'] },
  { type: 'array', itemType: 'i32', value: [-1, 0, 1] },
  { type: 'array', itemType: 'f32', value: [] },
  { type: 'array', itemType: 'bool', value: [false, true] },
  { type: 'array', itemType: 'u64', value: [1n, 18446744073709551615n] },
  { type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'i32', value: [1, 2] }, { type: 'array', itemType: 'i32', value: [3] }] },
];

describe('GGUF metadata values ↔ JSON with a type string (unmapped KV pairs survive APR metadata)', () => {
  it('every type survives the trip: JSON-safe value and type string back to the same typed value', () => {
    for (const v of VALUES) {
      const json: unknown = JSON.parse(JSON.stringify(ggufValueToJson(v)));
      expect(ggufValueFromJson(json, ggufTypeString(v)), ggufTypeString(v)).toEqual(v);
    }
  });

  it('64-bit integers are numbers when safe and decimal strings beyond 2^53', () => {
    expect(ggufValueToJson({ type: 'u64', value: 7n })).toBe(7);
    expect(ggufValueToJson({ type: 'u64', value: 2n ** 53n })).toBe('9007199254740992');
    expect(ggufValueToJson({ type: 'i64', value: -(2n ** 60n) })).toBe('-1152921504606846976');
  });

  it('type strings name nested element types', () => {
    expect(ggufTypeString({ type: 'array', itemType: 'string', value: [] })).toBe('array<string>');
    expect(ggufTypeString(VALUES[VALUES.length - 1] as GgufValue)).toBe('array<array<i32>>');
  });

  it('infers the type when none is given: integers u32 (i64 beyond), floats f32', () => {
    expect(ggufValueFromJson(3)).toEqual({ type: 'u32', value: 3 });
    expect(ggufValueFromJson(-3)).toEqual({ type: 'i64', value: -3n });
    expect(ggufValueFromJson(2.5)).toEqual({ type: 'f32', value: 2.5 });
    expect(ggufValueFromJson(['x'])).toEqual({ type: 'array', itemType: 'string', value: ['x'] });
    expect(ggufValueFromJson(null)).toBeUndefined();
    expect(ggufValueFromJson([])).toBeUndefined();
  });

  it('rejects values that do not fit the type instead of coercing them', () => {
    const bad: [unknown, string][] = [
      [1.5, 'u32'], ['1', 'i32'], [1, 'string'], ['true', 'bool'], [1.5, 'u64'], ['12x', 'i64'], [1, 'array<u8>'],
      [[1, 'a'], 'array<i32>'], [[1.5], 'array<i32>'], [['a'], 'array<bool>'], [[1], 'array<nope>'], [[[1], 2], 'array<array<i32>>'], [1, 'nope'],
    ];
    for (const [v, t] of bad) expect(ggufValueFromJson(v, t), `${JSON.stringify(v)} as ${t}`).toBeUndefined();
  });

  it('accepts decimal strings for 64-bit integers (how values beyond 2^53 are stored)', () => {
    expect(ggufValueFromJson('-99999999999999999999', 'i64')).toEqual({ type: 'i64', value: -99999999999999999999n });
    expect(ggufValueFromJson(['5', 6], 'array<u64>')).toEqual({ type: 'array', itemType: 'u64', value: [5n, 6n] });
  });
});
