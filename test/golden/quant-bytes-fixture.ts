/**
 * Writes test/fixtures/tensor/quant-llama-quantize.json: the bytes llama-quantize writes for the first rows of two
 * tiny-coder-llama tensors in every type apr quantizes, without and with an importance matrix (llama-imatrix's, on
 * the held-out text). test/unit/tensor-quantize-llama-reference.test.ts quantizes the same f32 rows (read from
 * ../shared/fixtures) in-process and compares bytes: the golden tests run llama-quantize in a child process, which
 * mutation testing cannot use. The importance weights are stored as apr reads them from llama-imatrix's file
 * (imatrixWeights, itself compared with llama.cpp in test/golden/imatrix-llama.test.ts).
 *   usage: LLAMA_CPP_BIN=<llama.cpp bin> npx tsx test/golden/quant-bytes-fixture.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readGguf } from '../../src/formats/gguf/index.js';
import { imatrixWeights, readImatrix } from '../../src/formats/imatrix/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { tempDir } from '../helpers.js';
import { FIX, bin, llamaQuantize, reason } from './gguf-llama-cpp-tools.js';
import { coder, llamaImatrix, tool } from './imatrix-llama-tools.js';

export const TYPES = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS'] as const satisfies readonly DType[];
/** A 256-value-row tensor and a 512-value-row one (K-quant super-blocks: one and two per row). */
export const TENSORS = ['blk.0.attn_q.weight', 'blk.1.ffn_down.weight'] as const;
export const ROWS = 4;
const OUT = 'test/fixtures/tensor/quant-llama-quantize.json';

/** The first ROWS rows of `name` in the GGUF at `path`, as stored (bytes). */
function firstRows(path: string, name: string): { type: string; cols: number; bytes: Buffer } {
  const f = readGguf(path);
  const t = f.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${path}: no tensor ${name}`);
  const cols = t.dims[0] ?? 0;
  const { blockBytes, blockSize } = DTYPES[t.ggmlType];
  const bytes = Buffer.from(f.read(t).subarray(0, (ROWS * cols * blockBytes) / blockSize));
  f.close();
  return { type: t.ggmlType, cols, bytes };
}

if (bin === undefined) throw new Error(reason);
const tmp = tempDir('apr-quant-fixture-');
const im = join(tmp.dir, 'coder.imatrix.gguf');
llamaImatrix(coder, im);
const weights = imatrixWeights(readImatrix(im));
const out: Record<string, Record<string, { plain: string; imatrix: string }>> = {};
for (const type of TYPES) {
  const plain = join(tmp.dir, `${type}.gguf`), withIm = join(tmp.dir, `${type}-im.gguf`);
  llamaQuantize(coder, plain, type, true);
  execFileSync(tool('llama-quantize'), ['--pure', '--imatrix', im, coder, withIm, type, '2'], { stdio: 'pipe' });
  out[type] = {};
  for (const name of TENSORS) {
    const a = firstRows(plain, name), b = firstRows(withIm, name);
    if (a.type !== type || b.type !== type) throw new Error(`${name}: llama-quantize --pure wrote ${a.type}/${b.type}, not ${type}`);
    out[type][name] = { plain: a.bytes.toString('base64'), imatrix: b.bytes.toString('base64') };
  }
}
const imatrix = Object.fromEntries(TENSORS.map((n) => {
  const w = weights.get(n);
  if (!w) throw new Error(`imatrix: no entry for ${n}`);
  return [n, Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('base64')];
}));
tmp.cleanup();
mkdirSync('test/fixtures/tensor', { recursive: true });
const source = join(FIX, 'tiny-coder-llama-f32.gguf').replace(/^.*\/shared\//, '../shared/');
writeFileSync(OUT, `${JSON.stringify({ $comment: 'written by test/golden/quant-bytes-fixture.ts from llama-quantize --pure (and --imatrix from llama-imatrix on reference/heldout.py.txt)', source, rows: ROWS, imatrix, types: out }, null, 1)}\n`);
process.stdout.write(`${OUT}: ${TYPES.length} types × ${TENSORS.length} tensors × ${ROWS} rows\n`);
