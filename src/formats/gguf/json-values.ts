/**
 * GGUF metadata values ↔ JSON-safe values plus a type string ('u32', 'array<string>', 'array<array<i32>>'),
 * so unmapped KV pairs survive a trip through a bundle's JSON metadata (APR) with their exact GGUF types.
 */
import type { GgufArray, GgufBigIntType, GgufNumberType, GgufValue } from './types.js';

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

const NUMBER_TYPES: ReadonlySet<string> = new Set(['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'f64']);
const isNumberType = (t: string): t is GgufNumberType => NUMBER_TYPES.has(t);
const isBigIntType = (t: string): t is GgufBigIntType => t === 'u64' || t === 'i64';
const asString = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const asBool = (x: unknown): boolean | undefined => (typeof x === 'boolean' ? x : undefined);

/** A JSON number for a GGUF number type: floats take any number, integer types only integers. */
function asNumber(t: GgufNumberType, x: unknown): number | undefined {
  if (typeof x !== 'number') return undefined;
  return t === 'f32' || t === 'f64' || Number.isInteger(x) ? x : undefined;
}

/** Every element converted, or undefined when one does not fit. */
function collect<T>(v: readonly unknown[], convert: (x: unknown) => T | undefined): T[] | undefined {
  const out: T[] = [];
  for (const x of v) {
    const y = convert(x);
    if (y === undefined) return undefined;
    out.push(y);
  }
  return out;
}

function scalarFromJson(t: string, v: unknown): GgufValue | undefined {
  if (t === 'string' || t === 'bool') {
    const value = t === 'string' ? asString(v) : asBool(v);
    if (typeof value === 'string') return { type: 'string', value };
    return typeof value === 'boolean' ? { type: 'bool', value } : undefined;
  }
  if (isBigIntType(t)) {
    const value = toBigInt(v);
    return value === undefined ? undefined : { type: t, value };
  }
  if (!isNumberType(t)) return undefined;
  const value = asNumber(t, v);
  return value === undefined ? undefined : { type: t, value };
}

function scalarArrayFromJson(t: string, v: readonly unknown[]): GgufArray | undefined {
  if (t === 'string') {
    const value = collect(v, asString);
    return value && { type: 'array', itemType: t, value };
  }
  if (t === 'bool') {
    const value = collect(v, asBool);
    return value && { type: 'array', itemType: t, value };
  }
  if (isBigIntType(t)) {
    const value = collect(v, toBigInt);
    return value && { type: 'array', itemType: t, value };
  }
  if (!isNumberType(t)) return undefined;
  const value = collect(v, (x) => asNumber(t, x));
  return value && { type: 'array', itemType: t, value };
}

function arrayFromJson(itemType: string, v: readonly unknown[]): GgufArray | undefined {
  const inner = /^array<(.+)>$/.exec(itemType);
  if (!inner) return scalarArrayFromJson(itemType, v);
  // Stryker disable next-line StringLiteral: the (.+) group always captures when the regex matched, so the fallback is never used.
  const value = collect(v, (x) => (Array.isArray(x) ? arrayFromJson(inner[1] ?? '', x) : undefined));
  return value && { type: 'array', itemType: 'array', value };
}

/** Rebuilds a typed value from JSON and a type string (inferred when absent); undefined if they do not fit. */
export function ggufValueFromJson(v: unknown, type?: string): GgufValue | undefined {
  const t = type ?? inferType(v);
  // Stryker disable next-line ConditionalExpression: an undefined type matches no array pattern and no scalar type, so scalarFromJson returns undefined anyway.
  if (t === undefined) return undefined;
  const arr = /^array<(.+)>$/.exec(t);
  // Stryker disable next-line StringLiteral: the (.+) group always captures when the regex matched, so the fallback is never used.
  if (arr) return Array.isArray(v) ? arrayFromJson(arr[1] ?? '', v) : undefined;
  return scalarFromJson(t, v);
}
