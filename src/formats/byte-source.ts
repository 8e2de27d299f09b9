import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FormatError } from './errors.js';

/**
 * Random access to the bytes of a file. Parsers read through this interface only, so a test can run them
 * on an in-memory buffer and see every read they make.
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

/** Fills `target` from `position` of an open file, or throws a FormatError when the file ends first. */
function readFdInto(fd: number, target: Uint8Array, position: number, file: string): void {
  const length = target.byteLength;
  let done = 0;
  while (done < length) {
    const n = readSync(fd, target, done, length - done, position + done);
    if (n === 0) throw new FormatError(file, 'file', `ends at ${position + done}, expected ${position + length} bytes (changed while open?)`);
    done += n;
  }
}

/** An open file descriptor of `size` bytes; `close` runs `release` once (nothing for a borrowed fd). */
function fdSource(fd: number, size: number, name: string, release: (fd: number) => void = () => undefined): ByteSource {
  let open = true;
  const src: ByteSource = {
    name,
    size,
    read(offset, length) {
      checkRange(src, offset, length);
      const buf = new Uint8Array(length);
      src.readInto(buf, offset);
      return buf;
    },
    readInto(target, offset) {
      checkRange(src, offset, target.byteLength);
      if (!open) throw new Error(`${name}: read after close`);
      readFdInto(fd, target, offset, name);
    },
    close() {
      if (open) release(fd);
      open = false;
    },
  };
  return src;
}

/** A file opened for reading; only the requested ranges are read. */
export function fileSource(path: string): ByteSource {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return fdSource(fd, fstatSync(fd).size, path, closeSync);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    throw new FormatError(path, 'file', `cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
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
