import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAprProgram } from '../../src/cli/apr-program.js';
import { contractMode, setContractMode } from '../../src/contract/index.js';
import { runProgram } from '../../src/cli/program.js';
import { openModel, writeModel } from '../../src/formats/open.js';
import { readPeftAdapter } from '../../src/formats/peft/adapter.js';
import { mergeLora } from '../../src/formats/peft/merge.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { elementCount } from '../../src/tensor/dtype.js';
import type { TensorRef } from '../../src/tensor/store.js';
import { fixture, tempDir } from '../helpers.js';

// tiny-coder-llama (base), the same model with its LoRA (email) adapter merged in (q_proj and v_proj of every
// layer change), and a perturbed copy (q_proj and down_proj of every layer moved): three related models
const CODER = fixture('models/tiny-coder-llama');
const ADAPTER = fixture('adapters/tiny-coder-llama-lora-email');
let tmp: ReturnType<typeof tempDir>;
let lora: string;
let perturbed: string;
let base: Map<string, Float32Array>;

function floats(t: TensorRef | undefined): Float32Array {
  if (!t) throw new Error('missing tensor');
  return dequantize(t.dtype, t.read(), elementCount(t.shape));
}

function tensors(path: string): Map<string, Float32Array> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => [n, floats(m.tensors.get(n))]));
  } finally {
    m.tensors.close();
  }
}

function writePerturbed(out: string): void {
  const src = openModel(CODER);
  const moved = (n: string): boolean => /layers\.\d+\.(self_attn\.q_proj|mlp\.down_proj)\.weight$/.test(n);
  const get = (n: string): TensorRef | undefined => {
    const t = src.tensors.get(n);
    if (!t || !moved(n)) return t;
    const x = floats(t).map((v, i) => v * 1.05 + 0.01 * Math.sin(i));
    return { ...t, dtype: 'F32', byteLength: x.byteLength, read: () => new Uint8Array(x.buffer) };
  };
  writeModel({ ...src, tensors: { names: () => src.tensors.names(), get, close: () => src.tensors.close() } }, out, 'apr');
}

beforeAll(() => {
  tmp = tempDir('apr-merge-methods-');
  lora = join(tmp.dir, 'coder+lora.apr');
  perturbed = join(tmp.dir, 'coder-perturbed.apr');
  writeModel(mergeLora(openModel(CODER), readPeftAdapter(ADAPTER)), lora, 'apr');
  writePerturbed(perturbed);
  base = tensors(CODER);
});
afterAll(() => tmp.cleanup());

/**
 * `apr merge ...` run in process (the registered command, argument parsing and JSON printing included). The
 * methods' postconditions (sign agreement, identity, ...) are checked in test/train/merge/ on small tensors;
 * here contracts run in `pre` mode (the default of the shipped CLI), which keeps this file's CPU time near 12 s.
 */
async function apr(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const mode = contractMode();
  setContractMode('pre');
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = undefined;
  try {
    return { code: await runProgram('apr', createAprProgram(), ['merge', ...args]), out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
    process.exitCode = undefined;
    setContractMode(mode);
  }
}

/** Writes a mergekit YAML config and merges with it; returns the merged tensors. */
async function mergeWith(name: string, yaml: string): Promise<Map<string, Float32Array>> {
  const config = join(tmp.dir, `${name}.yaml`);
  writeFileSync(config, yaml);
  const output = join(tmp.dir, `${name}.apr`);
  const r = await apr(['--config', config, '-o', output, '--json', '-q']);
  expect(r.err, name).toBe('');
  expect(r.code, name).toBe(0);
  const j = JSON.parse(r.out) as { strategy: string; tensors: number };
  expect(j.strategy).toBe(name.replace(/-.*/, ''));
  expect(j.tensors).toBe(57);
  return tensors(output);
}

const same = (a: Float32Array | undefined, b: Float32Array | undefined): boolean =>
  !!a && !!b && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Every tensor equal in all inputs comes out unchanged, bit for bit; every other one is finite, and at least
 * one of them moved off the base (the method did something).
 */
function expectSensible(merged: Map<string, Float32Array>, inputs: Map<string, Float32Array>[]): void {
  let moved = 0;
  for (const [name, x] of base) {
    const out = merged.get(name);
    if (inputs.every((m) => same(m.get(name), x))) expect(same(out, x), name).toBe(true);
    else {
      expect(out?.every(Number.isFinite), name).toBe(true);
      if (!same(out, x)) moved++;
    }
  }
  expect(moved).toBeGreaterThan(0);
}

const yaml = (method: string, models: string, extra = ''): string => `merge_method: ${method}\n${models}${extra}`;

describe('apr merge with the mergekit methods added in issue 24, on tiny-coder-llama', () => {
  it('runs nuslerp, breadcrumbs_ties, della_linear, sce, karcher, multislerp and arcee_fusion from mergekit YAML', async () => {
    const L = tensors(lora);
    const P = tensors(perturbed);
    const three = `models:\n  - model: ${CODER}\n  - model: ${lora}\n    parameters: { weight: 1.0 }\n  - model: ${perturbed}\n    parameters: { weight: 0.5 }\n`;
    const task = `base_model: ${CODER}\n${three}`;
    expectSensible(await mergeWith('nuslerp-base', yaml('nuslerp', `base_model: ${CODER}\nmodels:\n  - model: ${lora}\n    parameters: { weight: 0.4 }\n  - model: ${perturbed}\n    parameters: { weight: 0.6 }\n`)), [L, P]);
    expectSensible(await mergeWith('breadcrumbs_ties', yaml('breadcrumbs_ties', task, 'parameters: { density: 0.5, gamma: 0.01 }\n')), [L, P]);
    expectSensible(await mergeWith('della_linear', yaml('della_linear', task, 'parameters: { density: 0.5, epsilon: 0.1 }\n')), [L, P]);
    expectSensible(await mergeWith('sce', yaml('sce', task, 'parameters: { select_topk: 0.5 }\n')), [L, P]);
    expectSensible(await mergeWith('karcher', yaml('karcher', three, 'parameters: { max_iter: 5 }\n')), [L, P]);
    expectSensible(await mergeWith('multislerp', yaml('multislerp', three)), [L, P]);
    expectSensible(await mergeWith('arcee_fusion', yaml('arcee_fusion', `base_model: ${CODER}\nmodels:\n  - model: ${lora}\n`)), [L]);
  });

  it('nuslerp of two models takes t = w2/(w1 + w2) with the first model’s own weight', async () => {
    const merged = await mergeWith('nuslerp-two', yaml('nuslerp', `models:\n  - model: ${CODER}\n    parameters: { weight: 1 }\n  - model: ${lora}\n    parameters: { weight: 3 }\n`));
    // t = 3/4 over the whole q_proj tensor: slerp(a, b; t) = (sin((1−t)θ) a + sin(tθ) b)/sin θ, θ = ∠(a, b)
    const name = 'model.layers.2.self_attn.q_proj.weight';
    const a = base.get(name) as Float32Array;
    const b = tensors(lora).get(name) as Float32Array;
    const dot = a.reduce((s, v, i) => s + v * (b[i] as number), 0);
    const na = Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    const nb = Math.sqrt(b.reduce((s, v) => s + v * v, 0));
    const theta = Math.acos(dot / na / nb);
    const [c0, c1] = [Math.sin(0.25 * theta) / Math.sin(theta), Math.sin(0.75 * theta) / Math.sin(theta)];
    // one float32 rounding (2^-24 relative) plus float64 sums of 65536 products in another order (< 1e-9 abs)
    merged.get(name)?.forEach((o, i) => expect(Math.abs(o - (c0 * (a[i] as number) + c1 * (b[i] as number)))).toBeLessThanOrEqual(2 ** -23 * Math.abs(o) + 1e-9));
  });

  it('apr merge --strategy nearswap --t: JSON on stdout, entries between base and other; t is required', async () => {
    const out = join(tmp.dir, 'nearswap.apr');
    const r = await apr([CODER, lora, '--strategy', 'nearswap', '--t', '0.001', '-o', out, '--json', '-q']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { strategy: string }).strategy).toBe('nearswap');
    const L = tensors(lora);
    const merged = tensors(out);
    expectSensible(merged, [L]);
    const name = 'model.layers.0.self_attn.v_proj.weight';
    const [a, b, o] = [base.get(name), L.get(name), merged.get(name)] as [Float32Array, Float32Array, Float32Array];
    o.forEach((v, i) => expect(v >= Math.min(a[i] as number, b[i] as number) && v <= Math.max(a[i] as number, b[i] as number)).toBe(true));
    // nearswap needs t (no default in mergekit): without it, a one-line error naming the parameter
    const bad = await apr([CODER, lora, '--strategy', 'nearswap', '-o', join(tmp.dir, 'no-t.apr')]);
    expect(bad.code).not.toBe(0);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/\bt\b.*required|required.*\bt\b/);
  });
});
