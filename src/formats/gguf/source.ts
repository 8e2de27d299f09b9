import { readSync } from 'node:fs';
import { FormatError } from '../errors.js';

/** Random access to a file's bytes; `bytes` is only called within [0, size). */
export interface ByteSource {
  readonly size: number;
  bytes(offset: number, length: number): Uint8Array;
}

export function bufferSource(buf: Uint8Array): ByteSource {
  return { size: buf.byteLength, bytes: (offset, length) => buf.subarray(offset, offset + length) };
}

const WINDOW = 1 << 20;

/** Reads through a 1 MiB window, so that parsing a header of many small fields costs few syscalls. */
export function fdSource(fd: number, size: number, file: string): ByteSource {
  let winStart = 0;
  let win: Uint8Array = new Uint8Array(0);
  return {
    size,
    bytes(offset, length) {
      if (offset >= winStart && offset + length <= winStart + win.byteLength) return win.subarray(offset - winStart, offset - winStart + length);
      const want = Math.min(Math.max(length, WINDOW), size - offset);
      win = readFully(fd, want, offset, file);
      winStart = offset;
      return win.subarray(0, length);
    },
  };
}

/** Reads exactly `length` bytes at `position` or throws a FormatError (file shrank under us). */
export function readFully(fd: number, length: number, position: number, file: string): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new FormatError(file, 'data', `unexpected end of file at offset ${position + done}`);
    done += n;
  }
  return buf;
}
