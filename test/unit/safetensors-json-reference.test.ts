import { describe, expect, it } from 'vitest';
import { JsonSyntaxError, type JsonValue, parseStrictJson } from '../../src/formats/safetensors/json.js';

/**
 * The strict header parser against JavaScript's own JSON.parse (RFC 8259) as the outside reference: every
 * document JSON.parse accepts (with no repeated key, lone surrogate or nesting past 128, where serde_json, the
 * safetensors reference, is stricter) parses to the same value, and every document JSON.parse rejects is rejected
 * with a JsonSyntaxError. Numbers that are not safe integers come back as their literal text.
 */
function plain(v: JsonValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Number(v.text);
  return v;
}

const VALID = [
  'null', 'true', 'false', ' \t\r\n 0 \n', '-0', '12', '-7', '1.5', '-0.25', '1e2', '1E+2', '2.5e-3', '9007199254740993', '0.0',
  '""', '"abc"', '"a\\"b"', '"\\\\"', '"\\/"', '"\\b\\f\\n\\r\\t"', '"\\u0041\\u00e9\\u4e2d"', '"\\ud83d\\ude00"', '"é中😀"', '"\\u00"  '.slice(0, 0) + '"x"',
  '[]', '[ ]', '[1]', '[1,2,3]', '[ 1 , [ 2 , [ ] ] , { } ]', '{}', '{ }', '{"a":1}', '{ "a" : [1, {"b": null}] , "c" : "d" }',
  '{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}', '{"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}',
  '[true,false,null,"",0,-1.5e10]',
];

const INVALID = [
  '', ' ', 'nul', 'tru', 'fals', 'True', 'NULL', 'undefined', '01', '-', '+1', '1.', '.5', '1e', '1e+', '0x10', 'NaN', 'Infinity',
  '"abc', '"a\nb"', '"\t"', '"\\x"', '"\\u12"', '"\\u12g4"', '"\\U0041"', "'a'",
  '[', ']', '[1,]', '[,1]', '[1 2]', '[1,,2]', '{', '}', '{"a"}', '{"a":}', '{"a":1,}', '{,"a":1}', '{a:1}', '{"a" 1}', '{"a":1 "b":2}', '{1:2}',
  '1 2', '[] []', '{}x', 'null null', '\u00a0null', '[1]\u00a0', '"a"b',
];

describe('parseStrictJson against JSON.parse', () => {
  it.each(VALID)('accepts %j like JSON.parse', (text) => {
    expect(plain(parseStrictJson(text))).toEqual(JSON.parse(text));
  });

  it.each(INVALID)('rejects %j like JSON.parse', (text) => {
    expect((): unknown => JSON.parse(text)).toThrow();
    expect(() => parseStrictJson(text)).toThrow(JsonSyntaxError);
  });

  it('returns safe integers as numbers, anything else as its literal', () => {
    expect(parseStrictJson('9007199254740991')).toBe(9007199254740991);
    expect(parseStrictJson('9007199254740992')).toEqual({ text: '9007199254740992' });
    expect(parseStrictJson('2.0')).toEqual({ text: '2.0' });
    expect(parseStrictJson('-0')).toEqual({ text: '-0' });
    expect(parseStrictJson('0')).toBe(0);
  });
});

describe('where serde_json is stricter than JSON.parse', () => {
  it('lone or mismatched surrogates in \\u escapes are rejected; a pair decodes to one code point', () => {
    for (const t of ['"\\ud800"', '"\\udc00"', '"\\udfff"', '"\\ud800\\u0041"', '"\\ud800x"', '"\\ud800\\ud800"', '"\\ud800\\n"', '"\\udbff\\ue000"']) {
      expect((): unknown => JSON.parse(t)).not.toThrow();
      expect(() => parseStrictJson(t), t).toThrow(JsonSyntaxError);
    }
    expect(parseStrictJson('"\\udbff\\udfff"')).toBe('\u{10ffff}');
    expect(parseStrictJson('"\\ud800\\udc00x"')).toBe('\u{10000}x');
    expect(parseStrictJson('"\\ud7ff\\ue000"')).toBe('\ud7ff\ue000');
  });

  it('a repeated key is an error naming the key and the object it repeats in', () => {
    const err = (() => {
      try {
        parseStrictJson('{"a":{"b":1,"b":2}}');
      } catch (e) {
        return e as JsonSyntaxError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(JsonSyntaxError);
    expect(err?.duplicateKey).toBe('b');
    expect(err?.path).toBe('a');
    expect(err?.message).toBe('duplicate key "b"' + err?.message.slice('duplicate key "b"'.length));
    expect(() => parseStrictJson('{"x":1,"x":1}')).toThrow(/duplicate key "x"/);
  });

  it('nesting up to 128 levels is accepted, 129 is not', () => {
    expect(() => parseStrictJson(`${'['.repeat(128)}${']'.repeat(128)}`)).not.toThrow();
    expect(() => parseStrictJson(`${'['.repeat(129)}${']'.repeat(129)}`)).toThrow(/nesting deeper than 128/);
    expect(() => parseStrictJson(`${'{"a":'.repeat(129)}1${'}'.repeat(129)}`)).toThrow(/nesting deeper than 128/);
    // depth counts open containers, not the siblings that closed before
    expect(() => parseStrictJson(`[${Array.from({ length: 200 }, () => '[]').join(',')}]`)).not.toThrow();
  });

  it('a key __proto__ is just a key', () => {
    const v = parseStrictJson('{"__proto__":{"x":1}}') as Map<string, JsonValue>;
    expect([...v.keys()]).toEqual(['__proto__']);
  });
});
