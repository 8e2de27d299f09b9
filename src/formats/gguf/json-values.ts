/**
 * GGUF metadata values ↔ JSON-safe values plus a type string ('u32', 'array<string>', 'array<array<i32>>'),
 * so unmapped KV pairs survive a trip through a bundle's JSON metadata (APR) with their exact GGUF types.
 */
import type { GgufArray, GgufValue } from './types.js';

type Json = null | boolean | number | string | Json[];

function bigToJson(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

export function ggufValueToJson(v: GgufValue): Json {
  if (v.type === 'array') return arrayToJson(v);
  const x = v.value;
  return typeof x === 'bigint' ? bigToJson(x) : x;
}

function arrayToJson(a: GgufArray): Json[] {
  const out: Json[] = [];
  for (const x of a.value) out.push(typeof x === 'bigint' ? bigToJson(x) : typeof x === 'object' ? arrayToJson(x) : x);
  return out;
}

export function ggufTypeString(v: GgufValue): string {
  if (v.type !== 'array') return v.type;
  if (v.itemType !== 'array') return `array<${v.itemType}>`;
  const first = v.value[0];
  return `array<${first ? ggufTypeString(first) : 'array<u8>'}>`;
}

function inferType(v: unknown): string | undefined {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? (v >= 0 && v <= 0xffffffff ? 'u32' : 'i64') : 'f32';
  if (Array.isArray(v)) {
    const inner = inferType(v[0]);
    return inner ? `array<${inner}>` : undefined;
  }
  return undefined;
}

function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  return undefined;
}

function defined<T>(xs: (T | undefined)[]): xs is T[] {
  return xs.every((x) => x !== undefined);
}

function arrayFromJson(itemType: string, v: unknown[]): GgufArray | undefined {
  const inner = /^array<(.+)>$/.exec(itemType);
  if (inner) {
    const items = v.map((x) => (Array.isArray(x) ? arrayFromJson(inner[1] ?? '', x) : undefined));
    return defined(items) ? { type: 'array', itemType: 'array', value: items } : undefined;
  }
  const scalars = v.map((x) => ggufValueFromJson(x, itemType));
  if (!defined(scalars)) return undefined;
  const pick = <T>(test: (x: unknown) => x is T): T[] | undefined => {
    const out: T[] = [];
    for (const x of scalars) {
      if (!test(x.value)) return undefined;
      out.push(x.value);
    }
    return out;
  };
  const isNum = (x: unknown): x is number => typeof x === 'number';
  const isBig = (x: unknown): x is bigint => typeof x === 'bigint';
  const isStr = (x: unknown): x is string => typeof x === 'string';
  const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
  switch (itemType) {
    case 'string': { const value = pick(isStr); return value && { type: 'array', itemType, value }; }
    case 'bool': { const value = pick(isBool); return value && { type: 'array', itemType, value }; }
    case 'u64': case 'i64': { const value = pick(isBig); return value && { type: 'array', itemType, value }; }
    case 'u8': case 'i8': case 'u16': case 'i16': case 'u32': case 'i32': case 'f32': case 'f64': {
      const value = pick(isNum);
      return value && { type: 'array', itemType, value };
    }
    default:
      return undefined;
  }
}

/** Rebuilds a typed value from JSON and a type string (inferred when absent); undefined if they do not fit. */
export function ggufValueFromJson(v: unknown, type?: string): GgufValue | undefined {
  const t = type ?? inferType(v);
  if (t === undefined) return undefined;
  const arr = /^array<(.+)>$/.exec(t);
  if (arr) return Array.isArray(v) ? arrayFromJson(arr[1] ?? '', v) : undefined;
  switch (t) {
    case 'string':
      return typeof v === 'string' ? { type: t, value: v } : undefined;
    case 'bool':
      return typeof v === 'boolean' ? { type: t, value: v } : undefined;
    case 'u64':
    case 'i64': {
      const b = toBigInt(v);
      return b === undefined ? undefined : { type: t, value: b };
    }
    case 'f32':
    case 'f64':
      return typeof v === 'number' ? { type: t, value: v } : undefined;
    case 'u8': case 'i8': case 'u16': case 'i16': case 'u32': case 'i32':
      return typeof v === 'number' && Number.isInteger(v) ? { type: t, value: v } : undefined;
    default:
      return undefined;
  }
}
