import type { DType } from '../../tensor/dtype.js';

/** GGUF metadata value types, by their on-disk id (gguf_type). */
export const GGUF_TYPE_IDS = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufType = keyof typeof GGUF_TYPE_IDS;
export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufBigIntType = 'u64' | 'i64';

const TYPE_BY_ID = new Map<number, GgufType>(Object.entries(GGUF_TYPE_IDS).map(([k, v]) => [v, k as GgufType]));

export function ggufTypeFromId(id: number): GgufType | undefined {
  return TYPE_BY_ID.get(id);
}

/** Fixed byte width of a scalar type (strings and arrays have none). */
export const SCALAR_BYTES: Partial<Record<GgufType, number>> = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 };

/** A GGUF array: element type and values (nested arrays carry their own element types). */
export type GgufArray =
  | { type: 'array'; itemType: GgufNumberType; value: number[] }
  | { type: 'array'; itemType: GgufBigIntType; value: bigint[] }
  | { type: 'array'; itemType: 'bool'; value: boolean[] }
  | { type: 'array'; itemType: 'string'; value: string[] }
  | { type: 'array'; itemType: 'array'; value: GgufArray[] };

/** A typed GGUF metadata value. 64-bit integers are bigints so that no value is rounded. */
export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigIntType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | GgufArray;

export interface GgufTensorInfo {
  name: string;
  ggmlType: DType;
  /** GGUF order: ne[0] is the innermost (contiguous) dimension. */
  dims: number[];
  /** Offset relative to the start of the data section. */
  offset: number;
  byteLength: number;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGML_MAX_DIMS = 4;
/** Deepest array nesting accepted (gguf.h allows any; real files use at most 2). */
export const MAX_ARRAY_DEPTH = 8;
