/**
 * The name/key maps of every architecture, both ways, on the llama.cpp-format fixtures of test/fixtures/arch:
 * GGUF → HF folder (apr export) → the same logits; HF folder → GGUF (apr export) → the fixture's own tensors
 * (names, shapes, bytes) and `<arch>.*` keys; `apr check` passes on every file; APR import keeps the config.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/eval/integrity/index.js';
import { readGguf, readGgufBundle } from '../../src/formats/gguf/index.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { openModel } from '../../src/formats/open.js';
import { loadModel } from '../../src/model/index.js';
import { exportModel, importModel } from '../../src/ops/model-io.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { runCli, tempDir } from '../helpers.js';
import { ARCH_NAMES, archGguf, manifest, maxAbsDiff } from './arch-fixtures.js';

const tmp = tempDir('apr-arch-roundtrip-');
afterAll(() => tmp.cleanup());

function logitsOf(bundle: ModelBundle): Float32Array {
  const model = loadModel(bundle);
  bundle.tensors.close();
  return Float32Array.from(model.logitsAll(manifest.tokens));
}

const HF_CLASS: Record<string, string> = { llama: 'LlamaForCausalLM', qwen3: 'Qwen3ForCausalLM', mistral: 'MistralForCausalLM', phi3: 'Phi3ForCausalLM', gemma2: 'Gemma2ForCausalLM', gemma3: 'Gemma3ForCausalLM' };

/**
 * Gemma's norm gains go GGUF 1 + w → HF w = fl(g − 1) → GGUF fl(1 + w): exact for g ≥ ½ (Sterbenz), while
 * below ½ float32 w cannot hold g − 1 exactly and g comes back within 2⁻²⁴ (half an ulp of w near −1).
 */
const GEMMA_GAIN_ULP = 2 ** -24;

interface GgufFacts {
  arch: string;
  /** Every tensor: type, dims, size and (Gemma norm gains aside) a hash of its bytes. */
  tensors: Map<string, string>;
  /** Gemma's norm gains as values. */
  gains: Map<string, Float32Array>;
  keys: Map<string, string>;
}

/** Tensor infos and `<arch>.*` keys of a GGUF file. */
function ggufFacts(path: string): GgufFacts {
  const g = readGguf(path);
  try {
    const archKv = g.kv.get('general.architecture');
    const arch = archKv?.type === 'string' ? archKv.value : '';
    const gains = new Map<string, Float32Array>();
    const tensors = new Map<string, string>();
    for (const t of g.tensors) {
      const bytes = g.read(t);
      const gain = arch.startsWith('gemma') && t.name.endsWith('norm.weight');
      if (gain) gains.set(t.name, new Float32Array(bytes.slice().buffer));
      tensors.set(t.name, `${t.ggmlType} [${t.dims.join(',')}] ${t.byteLength} bytes${gain ? '' : `, FNV-1a ${hash(bytes)}`}`);
    }
    const keys = new Map([...g.kv].filter(([k]) => k.startsWith(`${arch}.`)).map(([k, v]) => [k, JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x))]));
    return { arch, tensors, gains, keys };
  } finally {
    g.close();
  }
}

function hash(bytes: Uint8Array): number {
  let h = 2166136261;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

describe('each architecture through HF folders, GGUF and APR', () => {
  for (const name of ARCH_NAMES) {
    const hfDir = join(tmp.dir, `${name}-hf`);

    it(`${name}: GGUF → HF folder (apr export) → reload: identical logits, config.json names ${HF_CLASS[name]}`, () => {
      exportModel({ input: archGguf(name), output: hfDir, format: 'safetensors' });
      const cfg = JSON.parse(readFileSync(join(hfDir, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(cfg['architectures']).toEqual([HF_CLASS[name]]);
      const fromHf = readHfDir(hfDir);
      const fromGguf = readGgufBundle(archGguf(name));
      expect(fromHf.config).toEqual(fromGguf.config);
      expect(maxAbsDiff(logitsOf(fromHf), logitsOf(fromGguf))).toBe(0);
    });

    it(`${name}: HF folder → GGUF (apr export): the fixture's tensors byte for byte (Gemma gains within 2^-24) and its <arch>.* keys`, () => {
      const out = join(tmp.dir, `${name}-again.gguf`);
      exportModel({ input: hfDir, output: out });
      const want = ggufFacts(archGguf(name));
      const got = ggufFacts(out);
      expect(got.arch).toBe(want.arch);
      expect(got.tensors).toEqual(want.tensors);
      for (const [n, v] of want.gains) expect(maxAbsDiff(got.gains.get(n) ?? new Float32Array(), v)).toBeLessThanOrEqual(GEMMA_GAIN_ULP);
      for (const [k, v] of want.keys) expect([k, got.keys.get(k)]).toEqual([k, v]);
    });

    it(`${name}: apr check passes the GGUF and the HF folder (all ten stages PASS)`, () => {
      for (const path of [archGguf(name), hfDir]) {
        const r = runCheck(path);
        expect(r.stages.map((s) => `${s.id} ${s.status}: ${s.details}`).filter((s) => !/^\d+ PASS/.test(s))).toEqual([]);
      }
    });

    it(`${name}: APR import keeps the architecture config and the logits`, () => {
      const apr = join(tmp.dir, `${name}.apr`);
      importModel({ input: archGguf(name), output: apr });
      const back = openModel(apr);
      const gguf = readGgufBundle(archGguf(name));
      expect(back.config).toEqual(gguf.config);
      expect(maxAbsDiff(logitsOf(back), logitsOf(gguf))).toBe(0);
    });
  }

  it('the CLI: apr export gemma2.gguf to an HF folder and back to GGUF', () => {
    const dir = join(tmp.dir, 'cli-gemma2');
    const a = runCli('apr', ['export', archGguf('gemma2'), '-o', dir, '--format', 'safetensors']);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    const b = runCli('apr', ['export', dir, '-o', join(tmp.dir, 'cli-gemma2.gguf'), '--json']);
    expect(b.status).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ format: 'gguf', architecture: 'gemma2', tensors: 24 });
  });
});
