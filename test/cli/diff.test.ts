/**
 * `apr diff A B` exits like diff(1)/cmp(1): 0 when the models are identical, 1 when they differ (values,
 * shapes or tensor names), 3 for an unreadable input; the printed report (text or --json) is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { fixture, runCli } from '../helpers.js';

const HF = fixture('models/tiny-coder-llama');
const F32 = fixture('gguf/tiny-coder-llama-f32.gguf');
const Q8 = fixture('gguf/tiny-coder-llama-Q8_0.gguf');
const DRAFT = fixture('gguf/tiny-draft-llama-f32.gguf');

interface DiffJson {
  identical: boolean;
  max_abs_diff: number;
  tensors: unknown[];
  shape_mismatch: unknown[];
}

describe('apr diff exit status', () => {
  it('exits 0 for identical models (HF folder vs its llama.cpp f32 GGUF), text and --json [ob:diff-models-identical]', () => {
    const text = runCli('apr', ['diff', HF, F32]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.trim().split('\n').at(-1)).toBe('max_abs_diff 0 — identical');
    const json = runCli('apr', ['diff', HF, F32, '--json']);
    expect(json.status, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as DiffJson;
    expect(doc.identical).toBe(true);
    expect(doc.tensors).toHaveLength(57);
  });

  it('exits 1 when values differ (f32 vs Q8_0), with the same report on stdout', () => {
    const text = runCli('apr', ['diff', F32, Q8]);
    expect(text.status, text.stderr).toBe(1);
    expect(text.stdout).toMatch(/— different\n$/);
    expect(text.stderr).toBe('');
    const json = runCli('apr', ['diff', F32, Q8, '--json']);
    expect(json.status, json.stderr).toBe(1);
    const doc = JSON.parse(json.stdout) as DiffJson;
    expect(doc.identical).toBe(false);
    expect(doc.max_abs_diff).toBeGreaterThan(0);
    expect(doc.tensors).toHaveLength(57);
  });

  it('exits 1 when shapes or names differ, and 3 for a missing input', () => {
    const r = runCli('apr', ['diff', F32, DRAFT, '--json']);
    expect(r.status, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as DiffJson).shape_mismatch.length).toBeGreaterThan(0);
    const missing = runCli('apr', ['diff', F32, '/nonexistent/model.gguf']);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain('/nonexistent/model.gguf');
  });

  it('documents the exit status in --help', () => {
    const r = runCli('apr', ['diff', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Exit status .*: 0 if the models are identical, 1 if they differ/s);
  });
});
