import { f16ToF32 } from '../half.js';

let table: Float32Array | undefined;

/** All 65,536 binary16 values as float32 (exact), built on first use: block scales are decoded by lookup. */
export function f16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16ToF32(h);
  }
  return table;
}

/** Checks that `bytes` holds `count` elements of a block type, and returns the number of blocks. */
export function blockCount(name: string, bytes: Uint8Array, count: number, blockSize: number, blockBytes: number): number {
  if (!Number.isSafeInteger(count) || count < 0 || count % blockSize !== 0) {
    throw new RangeError(`${name}: element count ${count} is not a multiple of the block size ${blockSize}`);
  }
  const nb = count / blockSize;
  if (bytes.byteLength < nb * blockBytes) {
    throw new RangeError(`${name}: ${count} elements need ${nb * blockBytes} bytes, got ${bytes.byteLength}`);
  }
  return nb;
}
