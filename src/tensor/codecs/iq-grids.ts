/**
 * ggml's IQ lookup tables as byte arrays, decoded once on first use from the generated iq-tables.ts. A grid
 * entry i of an n-byte table is bytes [n·i, n·i + n): ggml reads its uint64/uint32 entries through a
 * `(const uint8_t *)` (or `int8_t *` for iq1s_grid) cast on a little-endian host, and so do we.
 */
import { IQ_TABLES } from './iq-tables.js';

type IqTable = keyof typeof IQ_TABLES;

const decoded = new Map<IqTable, Uint8Array>();

/** The bytes of one of ggml's IQ tables (entries little-endian, as ggml lays them out in memory). */
export function iqTable(name: IqTable): Uint8Array {
  let bytes = decoded.get(name);
  if (!bytes) {
    const text = atob(IQ_TABLES[name].base64);
    bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    decoded.set(name, bytes);
  }
  return bytes;
}

/** The same bytes read as int8 (iq1s_grid's −1/0/+1 levels, kvalues_iq4nl). */
export function iqTableSigned(name: IqTable): Int8Array {
  const b = iqTable(name);
  return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * `width` values (8 for the IQ2 grids, 4 for IQ3's) of grid entry `idx`, each times `scale` and negated where
 * bit `shift + j` of `signs` is set, as ggml's `db * grid[j] * (signs & kmask_iq2xs[j] ? -1.f : 1.f)`.
 */
export function signedGridRow(grid: Uint8Array, width: number, idx: number, signs: number, shift: number, scale: number, out: Float32Array, y: number): void {
  const g = idx * width;
  for (let j = 0; j < width; j++) {
    const v = Math.fround(scale * (grid[g + j] ?? 0));
    out[y + j] = (signs >> (shift + j)) & 1 ? -v : v;
  }
}

/** The little-endian uint32 at `o`. */
export function u32At(bytes: Uint8Array, o: number): number {
  return ((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8) | ((bytes[o + 2] ?? 0) << 16) | ((bytes[o + 3] ?? 0) << 24)) >>> 0;
}
