import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FormatError } from '../errors.js';

export interface DirWriteOptions {
  /** Replace an existing non-empty folder (it is swapped out only after the new one is complete). */
  overwrite?: boolean;
}

function checkTarget(outDir: string, overwrite: boolean): 'absent' | 'empty' | 'full' {
  // Stryker disable next-line StringLiteral: swapInto treats every state other than 'empty' and 'full' as absent.
  if (!existsSync(outDir)) return 'absent';
  if (!statSync(outDir).isDirectory()) throw new FormatError(outDir, 'output', 'exists and is not a folder');
  // Stryker disable next-line StringLiteral: rename(2) on POSIX replaces an empty folder, so treating an empty target as absent is unobservable.
  if (readdirSync(outDir).length === 0) return 'empty';
  if (!overwrite) throw new FormatError(outDir, 'output', 'folder exists and is not empty (pass overwrite to replace it)');
  return 'full';
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  }
}

function swapInto(tmp: string, outDir: string, state: 'absent' | 'empty' | 'full'): void {
  // Stryker disable next-line StringLiteral: rename(2) on POSIX replaces an empty folder, so skipping the rmdirSync before it is unobservable.
  if (state === 'empty') rmdirSync(outDir);
  if (state !== 'full') {
    renameSync(tmp, outDir);
    return;
  }
  const old = join(dirname(outDir), `.apr-old-${process.pid}-${Date.now()}-${basename(outDir)}`);
  renameSync(outDir, old);
  try {
    renameSync(tmp, outDir);
  } catch (err) {
    renameSync(old, outDir);
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
}

/**
 * Builds a folder through a temporary sibling that `fill` writes into, then renames it into place, so a
 * reader never sees a half-written folder; on any error the temporary is removed and `outDir` is untouched.
 */
export function writeDirAtomically<T>(outDir: string, fill: (tmpDir: string) => T, options: DirWriteOptions = {}): T {
  checkTarget(outDir, options.overwrite ?? false);
  mkdirSync(dirname(outDir), { recursive: true });
  const tmp = join(dirname(outDir), `.apr-tmp-${process.pid}-${Date.now()}-${basename(outDir)}`);
  mkdirSync(tmp);
  try {
    const result = fill(tmp);
    fsyncDir(tmp);
    swapInto(tmp, outDir, checkTarget(outDir, options.overwrite ?? false));
    fsyncDir(dirname(outDir));
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
