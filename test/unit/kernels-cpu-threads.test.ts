import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { cpuBackend, createCpuBackend, matmulThreaded, threadPool } from '../../src/kernels/cpu/index.js';
import { withReadyThreadPools } from '../property/kernels-helpers.js';
import { generate, loadModel } from '../../src/model/index.js';
import { FIXTURES, loadReference, maxAbsDiff, referenceLogits } from '../golden/model-fixtures.js';

withReadyThreadPools();

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('thread pool lifecycle', () => {
  test('[ob:threads-lifecycle] a process that ran threaded products exits by itself', () => {
    const script = [
      "import { cpuBackend, createCpuBackend } from './src/kernels/cpu/index.ts';",
      "import { threadPool } from './src/kernels/cpu/pool.ts';",
      'const be = createCpuBackend({ threads: 3, minWork: 0 });',
      'while (!threadPool(3).isReady) await new Promise((r) => setTimeout(r, 20));',
      "const w = cpuBackend.prepareWeight({ dtype: 'F32', rows: 64, cols: 32, data: new Float32Array(64 * 32).fill(1) });",
      'const out = be.alloc(64); be.matmul(w, be.upload(new Float32Array(32).fill(2)), 1, out);',
      "process.stdout.write(String(out[63]) + ' ' + be.name);",
    ].join('\n');
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('64 cpu-simd-3t');
    expect(performance.now() - t0).toBeLessThan(60_000);
  });

  test('a closed pool is replaced by a working one on next use', async () => {
    const p = threadPool(2);
    await p?.close();
    const q = threadPool(2);
    expect(q).toBeDefined();
    while (!q!.isReady) await new Promise((r) => setTimeout(r, 20));
    expect(q).not.toBe(p);
    const w = cpuBackend.prepareWeight({ dtype: 'F32', rows: 16, cols: 8, data: Float32Array.from({ length: 128 }, (_, i) => i) });
    const out = matmulThreaded(q!, w, cpuBackend.upload(new Float32Array(8).fill(1)), 1, cpuBackend.alloc(16), 0);
    // row r sums 8r .. 8r + 7 = 64r + 28
    expect(Array.from(out)).toEqual(Array.from({ length: 16 }, (_, r) => 64 * r + 28));
  });

  test('one thread is the single-thread backend itself', () => {
    expect(createCpuBackend({ threads: 1 })).toBe(cpuBackend);
    expect(createCpuBackend({ threads: 2 }).name).toBe('cpu-simd-2t');
  });
});

describe('tiny-coder-llama with threads', () => {
  const file = path.join(FIXTURES, 'gguf', 'tiny-coder-llama-f32.gguf');
  const ref = loadReference('tiny-coder-llama');
  const logitsOf = referenceLogits('tiny-coder-llama');
  const models = [1, 2, 3].map((threads) => loadModel(readGgufBundle(file), { backend: createCpuBackend({ threads, minWork: 0 }) }));

  test('[ob:threads-decoder-invariant] logits on 2 and 3 threads equal the one-thread logits bit for bit and match transformers', () => {
    let worst = 0;
    ref.prompts.forEach((p, i) => {
      const [one, two, three] = models.map((m) => m.logitsAll(p.ids));
      expect(bits(two!)).toEqual(bits(one!));
      expect(bits(three!)).toEqual(bits(one!));
      worst = Math.max(worst, maxAbsDiff(three!, logitsOf(i)));
    });
    // the existing golden bound for this file (test/golden/model-gguf.test.ts): float32 round-off only
    expect(worst).toBeLessThan(1e-4);
  });

  test('greedy_32 with the KV cache on 3 threads equals the reference', () => {
    const m = models[2]!;
    expect(m.backend).toBe('cpu-simd-3t');
    for (const p of ref.prompts.slice(0, 3)) expect(generate(m, p.ids, { maxTokens: 32 }).ids).toEqual(p.greedy_32);
  });

  test('Q4_K_M file: 2 threads equal 1 thread bit for bit', () => {
    const q = path.join(FIXTURES, 'gguf', 'tiny-coder-llama-Q4_K_M.gguf');
    const [a, b] = [1, 2].map((threads) => loadModel(readGgufBundle(q), { backend: createCpuBackend({ threads, minWork: 0 }) }));
    const ids = ref.prompts[0]!.ids;
    expect(bits(b!.logitsAll(ids))).toEqual(bits(a!.logitsAll(ids)));
  });
});
