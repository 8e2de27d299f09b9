import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Sha256Digest } from '../tensor/digest.js';

const CHUNK = 4 << 20;

function hashFile(path: string, into: Sha256Digest): void {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(CHUNK);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      into.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * `sha256:<hex>` of a model source for provenance: the file's bytes, or for a folder its files in name
 * order (each preceded by its name), streamed in 4 MiB chunks.
 */
export function sourceDigest(path: string): string {
  const d = new Sha256Digest();
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      const p = join(path, name);
      if (!statSync(p).isFile()) continue;
      d.update(new TextEncoder().encode(`${name}\0`));
      hashFile(p, d);
    }
  } else {
    hashFile(path, d);
  }
  return d.digest();
}
