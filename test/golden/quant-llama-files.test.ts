/**
 * `apr quantize` on llama.cpp's f32 GGUF of tiny-coder-llama against the files llama-quantize made from it
 * (../shared/fixtures/gguf, llama.cpp commit 80fb11a, no importance matrix): every tensor must have the same
 * dtype and the same bytes, and general.file_type must agree. The f16 scheme must equal
 * convert_hf_to_gguf.py's F16 file (numpy's round-to-nearest-even cast). When llama.cpp's tools are built,
 * llama-completion must load our Q4_K_M file and continue a prompt as it continues its own.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf/index.js';
import { quantizeModel } from '../../src/ops/quantize.js';
import { tempDir } from '../helpers.js';
import { FIX, bin, llamaGreedy } from './gguf-llama-cpp-tools.js';

const F32 = join(FIX, 'tiny-coder-llama-f32.gguf');
const tmp = tempDir('apr-quant-files-');
afterAll(() => tmp.cleanup());

interface Comparison {
  tensors: number;
  identical: number;
  differing: string[];
  fileType: [unknown, unknown];
}

function compareFiles(ours: string, theirs: string): Comparison {
  const a = readGguf(ours), b = readGguf(theirs);
  try {
    const differing: string[] = [];
    let identical = 0;
    for (const t of b.tensors) {
      const u = a.tensors.find((x) => x.name === t.name);
      if (u && u.ggmlType === t.ggmlType && Buffer.from(a.read(u)).equals(Buffer.from(b.read(t)))) identical++;
      else differing.push(`${t.name}: ${u?.ggmlType ?? 'missing'} vs ${t.ggmlType}`);
    }
    return { tensors: b.tensors.length, identical, differing, fileType: [a.kv.get('general.file_type')?.value, b.kv.get('general.file_type')?.value] };
  } finally {
    a.close();
    b.close();
  }
}

describe('apr quantize = llama-quantize, tensor by tensor (tiny-coder-llama)', () => {
  const same = (scheme: string, file: string): void => {
    const out = join(tmp.dir, `${scheme}.gguf`);
    const r = quantizeModel({ input: F32, output: out, scheme });
    const c = compareFiles(out, join(FIX, `tiny-coder-llama-${file}.gguf`));
    console.log(`${scheme}: ${c.identical}/${c.tensors} tensors identical to llama.cpp's, ${r.seconds.toFixed(2)} s, general.file_type ${String(c.fileType[0])}`);
    expect(c.differing).toEqual([]);
    expect(c.identical).toBe(57);
    expect(c.fileType[0]).toBe(c.fileType[1]);
  };
  it('q8_0: every tensor byte-identical to llama.cpp\'s Q8_0 file [ob:quantize-llama-identical]', () => same('q8_0', 'Q8_0'));
  it('q4_0: every tensor byte-identical to llama.cpp\'s Q4_0 file [ob:quantize-llama-identical]', () => same('q4_0', 'Q4_0'));
  it('q6_k: every tensor byte-identical to llama.cpp\'s Q6_K file [ob:quantize-llama-identical]', () => same('q6_k', 'Q6_K'));
  it('q4_k_m: every tensor byte-identical to llama.cpp\'s Q4_K_M file [ob:quantize-llama-identical]', () => same('q4_k_m', 'Q4_K_M'));
  it('f16: every tensor byte-identical to convert_hf_to_gguf.py\'s F16 file [ob:quantize-llama-identical] [ob:f16-numpy-bytes]', () => same('f16', 'F16'));

  it.skipIf(bin === undefined)('llama-completion loads our Q4_K_M file and continues a prompt exactly as with llama.cpp\'s own', () => {
    // llamaGreedy runs llama-completion twice and keeps the whole text: its stdout tail is sometimes lost at exit
    const ours = llamaGreedy(join(tmp.dir, 'q4_k_m.gguf'), 'def fibonacci(n):', 16);
    const theirs = llamaGreedy(join(FIX, 'tiny-coder-llama-Q4_K_M.gguf'), 'def fibonacci(n):', 16);
    console.log(`llama-completion on our Q4_K_M: ${JSON.stringify(ours)}`);
    expect(ours.length).toBeGreaterThan(10);
    expect(ours).toBe(theirs);
  });
});
