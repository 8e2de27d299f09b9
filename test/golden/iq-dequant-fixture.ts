/**
 * Writes test/fixtures/tensor/iq-dequant-gguf-py.json: random blocks of every IQ and TQ type with llama.cpp's
 * gguf-py (numpy) dequantization of them, the outside reference that test/unit/tensor-codecs-iq-reference.test.ts
 * compares src/tensor/codecs against in-process (the golden test runs gguf-py in a child process, which
 * mutation testing cannot use). Blocks whose reference values are not all finite (a random f16 scale of
 * exponent 31) are left out, so the fixture compares numbers only.
 *   usage: APR_LLAMA_CPP_SRC=<llama.cpp> npx tsx test/golden/iq-dequant-fixture.ts
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { tempDir } from '../helpers.js';
import { ggufPyDequantize, ggufPySkip } from './iq-gguf-py-tools.js';

const TYPES = ['IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ3_XXS', 'IQ3_S', 'IQ1_S', 'IQ1_M', 'IQ4_NL', 'IQ4_XS', 'TQ1_0', 'TQ2_0'] as const satisfies readonly DType[];
const CANDIDATES = 24;
const KEEP = 4;
const OUT = 'test/fixtures/tensor/iq-dequant-gguf-py.json';

/** Deterministic bytes: SHA-256 of `${type}:${counter}`, concatenated. */
function bytesFor(type: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let c = 0, o = 0; o < n; c++, o += 32) out.set(createHash('sha256').update(`${type}:${c}`).digest().subarray(0, Math.min(32, n - o)), o);
  return out;
}

if (ggufPySkip !== undefined) throw new Error(ggufPySkip);
const tmp = tempDir('apr-iq-fixture-');
const fixture: Record<string, { input: string; output: string }> = {};
for (const type of TYPES) {
  const { blockBytes, blockSize } = DTYPES[type];
  const raw = bytesFor(type, CANDIDATES * blockBytes);
  const [ref] = ggufPyDequantize(tmp.dir, [[type, raw]]);
  const keep: number[] = [];
  for (let b = 0; b < CANDIDATES && keep.length < KEEP; b++) if (ref!.subarray(b * blockSize, (b + 1) * blockSize).every(Number.isFinite)) keep.push(b);
  const input = Buffer.concat(keep.map((b) => raw.subarray(b * blockBytes, (b + 1) * blockBytes)));
  const output = Buffer.concat(keep.map((b) => Buffer.from(ref!.buffer, ref!.byteOffset + b * blockSize * 4, blockSize * 4)));
  fixture[type] = { input: input.toString('base64'), output: output.toString('base64') };
}
tmp.cleanup();
mkdirSync('test/fixtures/tensor', { recursive: true });
writeFileSync(OUT, `${JSON.stringify({ $comment: 'written by test/golden/iq-dequant-fixture.ts from llama.cpp gguf-py', blocks: fixture }, null, 1)}\n`);
process.stdout.write(`${OUT}: ${TYPES.length} types\n`);
