/** Shared by the imatrix golden tests: llama-imatrix / llama-quantize runs and tensor-by-tensor comparisons. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { quantizeModel } from '../../src/ops/quantize.js';
import type { Imatrix } from '../../src/formats/imatrix/index.js';
import { tempDir } from '../helpers.js';
import { FIX, bin, ggufTensorDiff } from './gguf-llama-cpp-tools.js';

/** A scratch folder; each test file calls cleanup in its afterAll. */
export function imatrixScratch(): ReturnType<typeof tempDir> {
  return tempDir('apr-imatrix-llama-');
}

export const coder = join(FIX, 'tiny-coder-llama-f32.gguf');
export const heldout = join(FIX, '..', 'reference', 'heldout.py.txt');
export const tool = (name: string): string => join(bin ?? '', name);
export const ready = bin !== undefined && existsSync(tool('llama-imatrix'));

export function llamaImatrix(model: string, out: string, extra: string[] = []): void {
  execFileSync(tool('llama-imatrix'), ['-m', model, '-f', heldout, '--chunks', '8', '-c', '128', '-t', '2', '-o', out, ...extra], { stdio: 'pipe' });
}

/** apr quantize and llama-quantize, both with --imatrix `im` (files in `dir`); returns llama.cpp's dtype counts. */
export function sameAsLlama(dir: string, input: string, scheme: string, type: string, im: string): Record<string, number> {
  const theirs = join(dir, `llama-${scheme}.gguf`), ours = join(dir, `ours-${scheme}.gguf`);
  execFileSync(tool('llama-quantize'), ['--imatrix', im, input, theirs, type, '2'], { stdio: 'pipe' });
  const r = quantizeModel({ input, output: ours, scheme, imatrix: im });
  expect(r.imatrix?.weighted).toBeGreaterThan(0);
  const d = ggufTensorDiff(ours, theirs);
  expect(d.differing).toEqual([]);
  return d.types;
}

/** Worst per-column relative difference and worst per-tensor relative L1 difference of two imatrices' sums. */
export function sumsDifference(a: Imatrix, b: Imatrix): { column: number; tensor: number } {
  let column = 0, tensor = 0;
  for (const [name, eb] of b.entries) {
    const ea = a.entries.get(name);
    expect(ea?.counts, name).toEqual(eb.counts);
    let l1 = 0, s = 0;
    eb.sums.forEach((y, j) => {
      const x = ea?.sums[j] ?? NaN;
      column = Math.max(column, Math.abs(x - y) / Math.abs(y));
      l1 += Math.abs(x - y);
      s += Math.abs(y);
    });
    tensor = Math.max(tensor, l1 / s);
  }
  return { column, tensor };
}
