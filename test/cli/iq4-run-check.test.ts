/**
 * An IQ4_NL GGUF end to end: `apr quantize --scheme iq4_nl` on the fixture f32 model (its tensors equal
 * llama-quantize's, test/golden/quant-llama-iq4.test.ts), then `apr check` passes every stage (the IQ4_NL
 * weights decode, the forward self-test runs) and `apr run` continues a prompt with text.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizeModel } from '../../src/ops/quantize.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const tmp = tempDir('apr-iq4-cli-');
const model = join(tmp.dir, 'coder-iq4_nl.gguf');
beforeAll(() => {
  quantizeModel({ input: fixture('gguf', 'tiny-coder-llama-f32.gguf'), output: model, scheme: 'iq4_nl' });
});
afterAll(() => tmp.cleanup());

describe('IQ4_NL model through apr check and apr run', () => {
  it('apr check passes all ten stages on an IQ4_NL file', () => {
    const r = runCli('apr', ['check', model, '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { stages: { status: string }[] };
    expect(report.stages.map((s) => s.status)).toEqual(Array(10).fill('PASS'));
  });

  it('apr run continues a prompt with text', () => {
    const r = runCli('apr', ['run', model, 'def fibonacci(n):', '--max-tokens', '16']);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('def fibonacci(n):')).toBe(true);
    expect(r.stdout.trim().length).toBeGreaterThan('def fibonacci(n):'.length + 10);
  });
});
