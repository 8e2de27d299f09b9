import type { Cursor } from './cursor.js';
import { type GgufArray, type GgufType, type GgufValue, MAX_ARRAY_DEPTH, SCALAR_BYTES, ggufTypeFromId } from './types.js';

/** Reads a gguf_type id and resolves it, or fails naming the field. */
export function readType(c: Cursor, field: string): GgufType {
  const at = c.pos;
  const id = c.u32(field);
  const t = ggufTypeFromId(id);
  if (t === undefined) c.fail(field, `unknown value type ${id} at offset ${at}`);
  return t;
}

function readBool(c: Cursor, field: string, dv: DataView, i: number): boolean {
  const b = dv.getUint8(i);
  if (b > 1) c.fail(field, `bool value ${b} is neither 0 nor 1`);
  return b === 1;
}

function readNumbers(c: Cursor, t: GgufType, n: number, field: string): number[] {
  const w = SCALAR_BYTES[t] ?? 1;
  const dv = c.take(n * w, field);
  // Stryker disable next-line ArrayDeclaration: every index 0..n-1 is assigned before the array is returned.
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const o = i * w;
    switch (t) {
      case 'u8': out[i] = dv.getUint8(o); break;
      case 'i8': out[i] = dv.getInt8(o); break;
      case 'u16': out[i] = dv.getUint16(o, true); break;
      case 'i16': out[i] = dv.getInt16(o, true); break;
      case 'u32': out[i] = dv.getUint32(o, true); break;
      case 'i32': out[i] = dv.getInt32(o, true); break;
      case 'f32': out[i] = dv.getFloat32(o, true); break;
      default: out[i] = dv.getFloat64(o, true);
    }
  }
  return out;
}

function readBigInts(c: Cursor, t: 'u64' | 'i64', n: number, field: string): bigint[] {
  const dv = c.take(n * 8, field);
  // Stryker disable next-line ArrayDeclaration: every index 0..n-1 is assigned before the array is returned.
  const out = new Array<bigint>(n);
  for (let i = 0; i < n; i++) out[i] = t === 'u64' ? dv.getBigUint64(i * 8, true) : dv.getBigInt64(i * 8, true);
  return out;
}

/** Smallest encoding of one element: strings are at least their u64 length, arrays their type and count. */
function minBytes(t: GgufType): number {
  return t === 'string' ? 8 : t === 'array' ? 12 : (SCALAR_BYTES[t] ?? 1);
}

function readArray(c: Cursor, field: string, depth: number): GgufArray {
  if (depth > MAX_ARRAY_DEPTH) c.fail(field, `arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
  const itemType = readType(c, `${field}.type`);
  const w = minBytes(itemType);
  const n = c.length(`${field}.count`, Math.floor((c.remaining - 8) / w), 'array count');
  switch (itemType) {
    case 'string': {
      const value = new Array<string>(n);
      for (let i = 0; i < n; i++) value[i] = c.string(`${field}[${i}]`);
      return { type: 'array', itemType, value };
    }
    case 'array': {
      // Stryker disable next-line ArrayDeclaration: every index 0..n-1 is assigned before the array is returned.
      const value = new Array<GgufArray>(n);
      for (let i = 0; i < n; i++) value[i] = readArray(c, `${field}[${i}]`, depth + 1);
      return { type: 'array', itemType, value };
    }
    case 'bool': {
      const dv = c.take(n, field);
      // Stryker disable next-line ArrayDeclaration: every index 0..n-1 is assigned before the array is returned.
      const value = new Array<boolean>(n);
      for (let i = 0; i < n; i++) value[i] = readBool(c, `${field}[${i}]`, dv, i);
      return { type: 'array', itemType, value };
    }
    case 'u64':
    case 'i64':
      return { type: 'array', itemType, value: readBigInts(c, itemType, n, field) };
    default:
      return { type: 'array', itemType, value: readNumbers(c, itemType, n, field) };
  }
}

/** Reads one metadata value of type `t`. */
export function readValue(c: Cursor, t: GgufType, field: string): GgufValue {
  switch (t) {
    case 'string':
      return { type: t, value: c.string(field) };
    case 'array':
      return readArray(c, field, 1);
    case 'bool':
      return { type: t, value: readBool(c, field, c.take(1, field), 0) };
    case 'u64':
    case 'i64':
      return { type: t, value: readBigInts(c, t, 1, field)[0] ?? 0n };
    default:
      return { type: t, value: readNumbers(c, t, 1, field)[0] ?? 0 };
  }
}
