import { defineContract } from '../contract/index.js';

/** Tensor element types. Ids are GGML's (used by GGUF and APR v2); APR_Q4/APR_Q8 are aprender's. */
export const DTYPES = {
  F32: { id: 0, blockSize: 1, blockBytes: 4 },
  F16: { id: 1, blockSize: 1, blockBytes: 2 },
  Q4_0: { id: 2, blockSize: 32, blockBytes: 18 },
  Q4_1: { id: 3, blockSize: 32, blockBytes: 20 },
  Q5_0: { id: 6, blockSize: 32, blockBytes: 22 },
  Q5_1: { id: 7, blockSize: 32, blockBytes: 24 },
  Q8_0: { id: 8, blockSize: 32, blockBytes: 34 },
  Q2_K: { id: 10, blockSize: 256, blockBytes: 84 },
  Q3_K: { id: 11, blockSize: 256, blockBytes: 110 },
  Q4_K: { id: 12, blockSize: 256, blockBytes: 144 },
  Q5_K: { id: 13, blockSize: 256, blockBytes: 176 },
  Q6_K: { id: 14, blockSize: 256, blockBytes: 210 },
  // ggml's IQ ("importance") and ternary types: IQ4_NL / IQ4_XS are read and written, the others read only.
  IQ2_XXS: { id: 16, blockSize: 256, blockBytes: 66 },
  IQ2_XS: { id: 17, blockSize: 256, blockBytes: 74 },
  IQ3_XXS: { id: 18, blockSize: 256, blockBytes: 98 },
  IQ1_S: { id: 19, blockSize: 256, blockBytes: 50 },
  IQ4_NL: { id: 20, blockSize: 32, blockBytes: 18 },
  IQ3_S: { id: 21, blockSize: 256, blockBytes: 110 },
  IQ2_S: { id: 22, blockSize: 256, blockBytes: 82 },
  IQ4_XS: { id: 23, blockSize: 256, blockBytes: 136 },
  I8: { id: 24, blockSize: 1, blockBytes: 1 },
  I16: { id: 25, blockSize: 1, blockBytes: 2 },
  I32: { id: 26, blockSize: 1, blockBytes: 4 },
  IQ1_M: { id: 29, blockSize: 256, blockBytes: 56 },
  BF16: { id: 30, blockSize: 1, blockBytes: 2 },
  TQ1_0: { id: 34, blockSize: 256, blockBytes: 54 },
  TQ2_0: { id: 35, blockSize: 256, blockBytes: 66 },
  // aprender's APR_Q4 / APR_Q8 (ids 128/129), as aprender's AprV2Writer writes them: APR_Q4 is 32-value
  // blocks { f16 scale = amax/7; 16 bytes, element 2i in the low nibble of byte i, 2i+1 in the high one };
  // APR_Q8 is one f32 scale (amax/127) for the whole tensor, then one i8 per value (see TENSOR_HEADER_BYTES).
  // NF4 is ours (QLoRA NormalFloat4, 64-value blocks, f16 absmax).
  APR_Q4: { id: 128, blockSize: 32, blockBytes: 18 },
  APR_Q8: { id: 129, blockSize: 1, blockBytes: 1 },
  NF4: { id: 130, blockSize: 64, blockBytes: 34 },
} as const;

export type DType = keyof typeof DTYPES;

const BY_ID = new Map<number, DType>(Object.entries(DTYPES).map(([name, d]) => [d.id, name as DType]));

export function dtypeFromId(id: number): DType | undefined {
  return BY_ID.get(id);
}

export function isDType(name: string): name is DType {
  return Object.hasOwn(DTYPES, name);
}

/** Bytes before the first value that a tensor of this dtype carries once (APR_Q8's f32 scale). */
const TENSOR_HEADER_BYTES: Readonly<Partial<Record<DType, number>>> = { APR_Q8: 4 };

export function tensorHeaderBytes(dtype: DType): number {
  return TENSOR_HEADER_BYTES[dtype] ?? 0;
}

export function isQuantized(dtype: DType): boolean {
  return DTYPES[dtype].blockSize > 1 || tensorHeaderBytes(dtype) > 0;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Bytes occupied by a tensor of `shape` in `dtype`. Blocks run along the innermost (last) dimension,
 * so that dimension must be a multiple of the block size; throws otherwise. Includes a per-tensor header.
 */
export function byteSize(dtype: DType, shape: readonly number[]): number {
  return byteSizeContract.run({ dtype, shape }, () => blockBytesOf(dtype, shape));
}

export const byteSizeContract = defineContract<{ dtype: DType; shape: readonly number[] }, number>({
  id: 'tensor-layout-v1',
  equation: 'block_row_offset',
  spec: 'byteSize = (rows·cols/blockSize)·blockBytes; row r spans [r·nb·blockBytes, (r+1)·nb·blockBytes)',
  pre: [['dimensions are non-negative integers', ({ shape }) => shape.every((d) => Number.isSafeInteger(d) && d >= 0)]],
  post: [['size is a non-negative integer', (_i, n) => Number.isSafeInteger(n) && n >= 0]],
});

function blockBytesOf(dtype: DType, shape: readonly number[]): number {
  const { blockSize, blockBytes } = DTYPES[dtype];
  const inner = shape.length === 0 ? 1 : (shape[shape.length - 1] ?? 1);
  if (inner % blockSize !== 0) {
    throw new RangeError(`${dtype}: innermost dimension ${inner} is not a multiple of the block size ${blockSize}`);
  }
  return tensorHeaderBytes(dtype) + (elementCount(shape) / blockSize) * blockBytes;
}
