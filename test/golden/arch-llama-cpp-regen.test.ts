/**
 * Re-makes the llama.cpp references of test/fixtures/arch: compiles scripts/llama-logits.cpp against the
 * static libllama/ggml of a llama.cpp build (as test/fixtures/arch/README.md says) and re-runs each
 * manifest command. Runs when g++ and a built llama.cpp tree ($APR_LLAMA_CPP_SRC, else the one above
 * $LLAMA_CPP_BIN, else ./.cache/llama-cpp/src, ./.llama-cpp/src or ../llama-cpp/src) are there.
 * Tolerance 1e-5: the same program on the same libraries is deterministic (one thread), bit for bit on the
 * machine that made the files; another CPU may take other SIMD paths in ggml, whose float32 round-off on
 * these logits is of the order of the 6e-6 seen between apr and llama.cpp.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { ARCH_NAMES, archGguf, llamaLogits, manifest, maxAbsDiff } from './arch-fixtures.js';

const LIBS = ['src/libllama.a', 'ggml/src/libggml.a', 'ggml/src/libggml-cpu.a', 'ggml/src/libggml-base.a'];
const binDir = process.env['LLAMA_CPP_BIN'];
const candidates = [process.env['APR_LLAMA_CPP_SRC'], binDir ? join(binDir, '../..') : undefined, '.cache/llama-cpp/src', '.llama-cpp/src', '../llama-cpp/src'];
const src = candidates.find((d): d is string => d !== undefined && existsSync(join(d, 'include/llama.h')) && LIBS.every((l) => existsSync(join(d, 'build', l))));
const gxx = spawnSync('g++', ['--version']).status === 0;
const reason = !gxx ? 'g++ not found' : 'no built llama.cpp tree (include/llama.h and build/src/libllama.a): set APR_LLAMA_CPP_SRC or LLAMA_CPP_BIN';

describe.skipIf(src === undefined || !gxx)('llama.cpp references re-made with scripts/llama-logits.cpp', () => {
  const tmp = tempDir('apr-llama-logits-');
  afterAll(() => tmp.cleanup());
  const exe = join(tmp.dir, 'llama-logits');

  it('compiles against the static libraries', () => {
    const root = resolve(src ?? '');
    const args = ['-O2', '-std=c++17', 'scripts/llama-logits.cpp', `-I${root}/include`, `-I${root}/ggml/include`, ...LIBS.map((l) => join(root, 'build', l)), '-fopenmp', '-lpthread', '-ldl', '-o', exe];
    execFileSync('g++', args, { stdio: 'pipe' });
    expect(existsSync(exe)).toBe(true);
  }, 120_000);

  for (const name of ARCH_NAMES) {
    it(`${name}: the manifest's command gives the committed logits within 1e-5`, () => {
      const [, , , ...rest] = manifest.models[name]?.command.split(' ') ?? [];
      const out = join(tmp.dir, `${name}.logits.f32`);
      execFileSync(exe, [archGguf(name), out, ...rest], { stdio: 'pipe' });
      const buf = readFileSync(out);
      const again = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      expect(maxAbsDiff(again, llamaLogits(name))).toBeLessThanOrEqual(1e-5);
    });
  }
});

if (src === undefined || !gxx) {
  describe('llama.cpp references re-made', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}
