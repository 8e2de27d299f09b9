/** The `apr quantize` command line: `--plan` (text and JSON), `--batch`, and one-line usage / input errors. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, runCli, tempDir } from '../helpers.js';

const HF = fixture('models', 'tiny-draft-llama');
const tmp = tempDir('apr-quant-cli-');
afterAll(() => tmp.cleanup());

describe('apr quantize (CLI)', () => {
  it('--plan prints the per-tensor table and the size, and writes nothing', () => {
    const r = runCli('apr', ['quantize', HF, '--scheme', 'q4_k_m', '--plan']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/model\.layers\.1\.self_attn\.v_proj\.weight\s+\[64, 128\]\s+F32\s+Q8_0/);
    expect(r.stdout).toMatch(/q4_k_m \(general\.file_type 15\): /);
    expect(r.stdout).toMatch(/bits per weight/);
  });

  it('--batch writes one file per scheme; an unknown scheme is a usage error (2), int4 to GGUF bad input (3)', () => {
    const r = runCli('apr', ['quantize', HF, '--batch', 'q8_0,q4_0', '-o', join(tmp.dir, 'b.gguf'), '--json']);
    expect(r.status).toBe(0);
    expect(existsSync(join(tmp.dir, 'b-q8_0.gguf')) && existsSync(join(tmp.dir, 'b-q4_0.gguf'))).toBe(true);
    const plans = JSON.parse(r.stdout) as { scheme: string; format: string; entries: { to: string }[] }[];
    expect(plans.map((p) => [p.scheme, p.format])).toEqual([['q8_0', 'gguf'], ['q4_0', 'gguf']]);
    const bad = runCli('apr', ['quantize', HF, '--scheme', 'q9', '-o', join(tmp.dir, 'x.apr')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown scheme 'q9'/);
    const gguf = runCli('apr', ['quantize', HF, '--scheme', 'int4', '-o', join(tmp.dir, 'x.gguf')]);
    expect(gguf.status).toBe(3);
    expect(gguf.stderr.trim().split('\n').length).toBe(1);
  });
});
