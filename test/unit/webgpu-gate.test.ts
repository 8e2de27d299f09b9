import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { acquireGpu } from '../../src/kernels/webgpu/device.js';
import { compareLogits, PARITY_MAX_REL_ERROR } from '../../src/kernels/webgpu/parity.js';
import { createSession } from '../../src/model/session.js';
import { FIXTURES } from '../golden/model-fixtures.js';
import { gpu, noGpuReason } from '../property/webgpu-helpers.js';

/** The parity gate of `--backend auto`: WebGPU only when its first forward pass matches the CPU's. */

const bundle = (): ReturnType<typeof readHfDir> => readHfDir(path.join(FIXTURES, 'models', 'tiny-coder-llama'));

describe('compareLogits (the gate arithmetic)', () => {
  const base = Float32Array.from({ length: 4096 }, (_, i) => 10 * Math.sin(i * 0.37));
  test('[ob:parity-gate-bounds] identical logits pass; noise at 1e-5 of the range passes; 1e-2 fails; NaN fails', () => {
    expect(compareLogits(base, base)).toEqual({ cosine: expect.closeTo(1, 12) as number, maxRelError: 0, pass: true });
    const small = base.map((v, i) => v + (i % 2 ? 1e-4 : -1e-4));
    const r = compareLogits(base, small);
    expect(r.pass).toBe(true);
    expect(r.maxRelError).toBeCloseTo(1e-5, 6);
    expect(compareLogits(base, base.map((v, i) => (i === 7 ? v + 0.1 : v))).pass).toBe(false);
    expect(compareLogits(base, base.map((v, i) => (i === 7 ? Number.NaN : v))).pass).toBe(false);
    expect(compareLogits(base, base.map((v) => -v)).pass).toBe(false);
  });
});

describe('acquireGpu', () => {
  test('[ob:webgpu-device-reason] with no backend to try the answer is a reason, not a throw', async () => {
    const r = await acquireGpu({ backends: [] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^no usable WebGPU adapter \(no backend to try\); run \.ci\/install-webgpu\.sh/);
  });
});

describe.skipIf(!gpu)(`backend selection${noGpuReason}`, () => {
  test('[ob:parity-gate-fallback] auto takes webgpu when the gate passes, silently', () => {
    const warnings: string[] = [];
    const s = createSession(bundle(), { backend: 'auto', warn: (l) => warnings.push(l) });
    expect(s.model.backend).toBe('webgpu');
    expect(warnings).toEqual([]);
  });

  for (const fault of ['rope-sign', 'matmul-drop-last-column'] as const) {
    test(`[ob:parity-gate-fallback] a deliberately wrong kernel (${fault}) makes auto fall back to the cpu with one warning`, () => {
      const warnings: string[] = [];
      const s = createSession(bundle(), { backend: 'auto', webgpu: { fault }, warn: (l) => warnings.push(l) });
      expect(s.model.backend).not.toBe('webgpu');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^warning: webgpu failed the parity gate \(cosine [\d.]+ < 0\.9999 or max rel error [\d.e+-]+ > 0\.001\); using the cpu backend$/);
      const rel = Number(/max rel error ([\d.e+-]+)/.exec(warnings[0] ?? '')?.[1]);
      expect(rel).toBeGreaterThan(10 * PARITY_MAX_REL_ERROR);
    });
  }

  test('explicit --backend webgpu uses the device without a gate; cpu never starts it', () => {
    expect(createSession(bundle(), { backend: 'webgpu' }).model.backend).toBe('webgpu');
    expect(createSession(bundle(), { backend: 'cpu' }).model.backend).not.toBe('webgpu');
  });
});
