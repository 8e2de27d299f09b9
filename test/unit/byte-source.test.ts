import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferSource, fileSource } from '../../src/formats/byte-source.js';
import { FormatError } from '../../src/formats/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'apr-bytesource-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BYTES = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff);

function fileWith(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('ByteSource over a file and over a buffer (the one reader of APR and GGUF)', () => {
  const sources = [
    ['file', () => fileSource(fileWith('a.bin', BYTES))],
    ['buffer', () => bufferSource(BYTES, 'a.bin')],
  ] as const;

  for (const [kind, open] of sources) {
    it(`${kind}: read and readInto return the bytes at the offset, as copies`, () => {
      const src = open();
      expect(src.size).toBe(300);
      expect([...src.read(10, 5)]).toEqual([...BYTES.subarray(10, 15)]);
      const target = new Uint8Array(4);
      src.readInto(target, 296);
      expect([...target]).toEqual([...BYTES.subarray(296, 300)]);
      const a = src.read(0, 3);
      a[0] = 99;
      expect(src.read(0, 1)[0]).toBe(BYTES[0]);
      expect(src.read(300, 0).byteLength).toBe(0);
      src.close();
    });

    it(`${kind}: a range outside the file is a one-line FormatError naming the file`, () => {
      const src = open();
      for (const [offset, length] of [[299, 2], [-1, 1], [0, 301], [1.5, 1], [0, Number.NaN]] as const) {
        expect(() => src.read(offset, length)).toThrow(FormatError);
      }
      expect(() => src.read(299, 2)).toThrow(/^.*a\.bin: file: read of 2 bytes at 299 is outside the 300-byte file$/);
      expect(() => src.readInto(new Uint8Array(8), 295)).toThrow(/outside the 300-byte file/);
      src.close();
    });
  }

  it('a closed file source refuses to read, and closing twice is harmless', () => {
    const src = fileSource(fileWith('b.bin', BYTES));
    src.close();
    src.close();
    expect(() => src.read(0, 1)).toThrow(/b\.bin: read after close/);
  });

  it('a missing file is a FormatError with the errno code', () => {
    expect(() => fileSource(join(dir, 'missing.bin'))).toThrow(/missing\.bin: file: cannot open \(ENOENT\)/);
  });

  it('a file that shrinks while open ends the read with a FormatError, not short data', () => {
    const path = fileWith('c.bin', BYTES);
    const src = fileSource(path);
    truncateSync(path, 100);
    expect(() => src.read(90, 20)).toThrow(/c\.bin: file: ends at 100, expected 110 bytes \(changed while open\?\)/);
    expect([...src.read(0, 4)]).toEqual([...BYTES.subarray(0, 4)]);
    src.close();
  });
});
