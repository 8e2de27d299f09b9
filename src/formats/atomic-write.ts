import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** An output whose folder does not exist (or is a file): a usage error, found before anything is written. */
export class OutputPathError extends Error {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${path}: cannot write the output: ${problem}`);
    this.name = 'OutputPathError';
    this.path = path;
  }
}

/**
 * Throws OutputPathError unless the folder that will hold `path` exists. Writers never create the folders
 * above an output, so a mistyped `-o` fails at once with the path and the folder named (not the temporary).
 */
export function checkOutputPath(path: string): void {
  const folder = dirname(path);
  if (!existsSync(folder)) throw new OutputPathError(path, `folder ${folder} does not exist`);
  if (!statSync(folder).isDirectory()) throw new OutputPathError(path, `${folder} is not a folder`);
}

/**
 * A file written through a temporary sibling and renamed into place on `commit()`, so a reader never sees
 * a half-written output. `abort()` (or an exception inside `writeAtomically`) removes the temporary.
 */
export class AtomicFile {
  readonly path: string;
  readonly tmpPath: string;
  private fd: number | undefined;
  private position = 0;

  constructor(path: string) {
    checkOutputPath(path);
    this.path = path;
    this.tmpPath = join(dirname(path), `.apr-tmp-${process.pid}-${Date.now()}-${basename(path)}`);
    this.fd = openSync(this.tmpPath, 'w');
  }

  get bytesWritten(): number {
    return this.position;
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path}: write after close`);
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.fd, bytes, done, bytes.byteLength - done, this.position + done);
    this.position += bytes.byteLength;
  }

  /** Writes `bytes` at an absolute offset already written (for headers patched after the data). */
  writeAt(offset: number, bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path}: write after close`);
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.fd, bytes, done, bytes.byteLength - done, offset + done);
  }

  commit(): void {
    if (this.fd === undefined) throw new Error(`${this.path}: commit after close`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.tmpPath, this.path);
  }

  abort(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    rmSync(this.tmpPath, { force: true });
  }
}

/** Runs `fill` on a fresh AtomicFile; commits on success, removes the temporary on any error. */
export function writeAtomically<T>(path: string, fill: (file: AtomicFile) => T): T {
  const file = new AtomicFile(path);
  try {
    const result = fill(file);
    file.commit();
    return result;
  } catch (err) {
    file.abort();
    throw err;
  }
}
