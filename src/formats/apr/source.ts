import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FormatError } from '../errors.js';

/**
 * Random access to the bytes of an APR file. The parser reads through this interface only, so a test can
 * run it on an in-memory buffer and see every read it makes.
 */
export interface ByteSource {
  /** The file name used in error messages. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `offset`, in a new buffer. */
  read(offset: number, length: number): Uint8Array;
  /** Fills `target` from `offset` (lets a sequential pass reuse one buffer instead of allocating per chunk). */
  readInto(target: Uint8Array, offset: number): void;
  close(): void;
}

function checkRange(src: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new FormatError(src.name, 'file', `read of ${length} bytes at ${offset} is outside the ${src.size}-byte file`);
  }
}

/** A file opened for reading; only the requested ranges are read. */
export function fileSource(path: string): ByteSource {
  let fd: number | undefined = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const src: ByteSource = {
    name: path,
    size,
    read(offset, length) {
      const buf = new Uint8Array(length);
      src.readInto(buf, offset);
      return buf;
    },
    readInto(target, offset) {
      const length = target.byteLength;
      checkRange(src, offset, length);
      if (fd === undefined) throw new Error(`${path}: read after close`);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, target, done, length - done, offset + done);
        if (n === 0) throw new FormatError(path, 'file', `ends at ${offset + done}, expected ${offset + length} bytes (changed while open?)`);
        done += n;
      }
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
  return src;
}

/** An in-memory file (tests, and files already in memory). Returns copies, as a file read would. */
export function bufferSource(bytes: Uint8Array, name = '<memory>'): ByteSource {
  const src: ByteSource = {
    name,
    size: bytes.byteLength,
    read(offset, length) {
      checkRange(src, offset, length);
      return bytes.slice(offset, offset + length);
    },
    readInto(target, offset) {
      checkRange(src, offset, target.byteLength);
      target.set(bytes.subarray(offset, offset + target.byteLength));
    },
    close() {
      // nothing to release
    },
  };
  return src;
}
