import { describe, expect, test } from 'vitest';
import { fixture, runCli } from '../helpers.js';

/**
 * `--backend` where no WebGPU adapter is usable (APR_WEBGPU_BACKENDS=none stands in for a machine without
 * one): `auto` runs on the CPU with one warning naming the reason; `webgpu` is a one-line error, exit 2.
 */
const MODEL = fixture('gguf/tiny-draft-llama-f32.gguf');
const NONE = { APR_WEBGPU_BACKENDS: 'none' };
const REASON = 'no usable WebGPU adapter (no backend to try); run .ci/install-webgpu.sh for a software adapter';

describe('apr run --backend without a usable adapter', () => {
  test('[ob:webgpu-device-reason] auto falls back to the cpu with the reason on stderr', () => {
    const r = runCli('apr', ['run', MODEL, 'def f(x):', '-n', '3', '--backend', 'auto'], { env: NONE });
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([`warning: webgpu unavailable (${REASON}); using the cpu backend`]);
  }, 60_000);

  test('[ob:webgpu-device-reason] webgpu is a one-line error with exit code 2', () => {
    const r = runCli('apr', ['run', MODEL, 'def f(x):', '-n', '3', '--backend', 'webgpu'], { env: NONE });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`apr: error: the webgpu backend is unavailable: ${REASON}\n`);
  }, 60_000);
});
