/**
 * IQ4_NL / IQ4_XS against llama-quantize run here (skipped with the reason when llama.cpp's tools are absent):
 * - `apr quantize --scheme iq4_nl|iq4_xs` on tiny-coder-llama and on an 8-layer, n_head/n_head_kv = 4 model
 *   built from tiny-draft-llama (so the ffn_down i < n/8 → Q5_K, attn_v → Q5_K, IQ4_XS → IQ4_NL fallback and
 *   tied-output → Q8_0 rules all fire): every tensor the same dtype and bytes as llama-quantize's file;
 * - with an importance matrix (llama-imatrix over the held-out text): every IQ4 tensor of llama-quantize
 *   --imatrix's file equals quantize('IQ4_NL' | 'IQ4_XS', values, weights), the weights read here from the
 *   imatrix GGUF as llama-quantize's load_imatrix computes them (in_sum2 / lround(counts), 1 where count is 0);
 *   and `apr quantize --imatrix` (src/formats/imatrix, the Q6_K output's importance-weighted quantizer) makes
 *   the whole IQ4_XS file as llama-quantize --imatrix does.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf, readGgufBundle, writeGgufBundle } from '../../src/formats/gguf/index.js';
import { quantizeModel } from '../../src/ops/quantize.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { quantize } from '../../src/tensor/codecs/index.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { tempDir } from '../helpers.js';
import { FIX, type GgufTensorDiff, bin, ggufTensorDiff, llamaQuantize, reason } from './gguf-llama-cpp-tools.js';

const tmp = tempDir('apr-quant-iq4-');
afterAll(() => tmp.cleanup());
const CODER = join(FIX, 'tiny-coder-llama-f32.gguf');

function check(input: string, scheme: string, type: string): GgufTensorDiff {
  const theirs = join(tmp.dir, `llama-${type}.gguf`), ours = join(tmp.dir, `ours-${scheme}.gguf`);
  llamaQuantize(input, theirs, type);
  const r0 = quantizeModel({ input, output: ours, scheme });
  const r = ggufTensorDiff(ours, theirs);
  console.log(`${scheme} vs llama-quantize ${type}: ${r.tensors - r.differing.length}/${r.tensors} identical (${r0.seconds.toFixed(1)} s); llama.cpp's types ${JSON.stringify(r.types)}`);
  expect(r.differing).toEqual([]);
  return r;
}

/** tiny-draft-llama stretched to 8 layers (layer i = layer i mod 2) with one KV head: K/V keep their first 32 rows. */
function gqa4EightLayers(): string {
  const src = readGgufBundle(join(FIX, 'tiny-draft-llama-f32.gguf'));
  const store = new MemoryTensorStore();
  for (const name of src.tensors.names()) {
    const ref = src.tensors.get(name);
    if (!ref) continue;
    const kv = /self_attn\.[kv]_proj\.weight$/.test(name);
    const cols = ref.shape[1] ?? 0;
    const sliced = kv ? { ...ref, shape: [32, cols], byteLength: 32 * cols * 4, read: () => ref.read().slice(0, 32 * cols * 4) } : ref;
    const m = /^model\.layers\.(\d+)\.(.*)$/.exec(name);
    if (!m) store.addRef(sliced);
    else for (let i = Number(m[1]); i < 8; i += 2) store.addRef({ ...sliced, name: `model.layers.${i}.${m[2] ?? ''}` });
  }
  const path = join(tmp.dir, 'draft8-gqa4-f32.gguf');
  const bundle: ModelBundle = { ...src, config: { ...src.config, num_layers: 8, num_kv_heads: 1 }, tensors: store };
  writeGgufBundle(bundle, path);
  src.tensors.close();
  return path;
}

/** llama-quantize's load_imatrix on a GGUF imatrix: per tensor, in_sum2 / lround(count) (1 where count is 0). */
function readImatrixWeights(path: string): Map<string, Float32Array> {
  const g = readGguf(path);
  try {
    const f32 = (name: string): Float32Array | undefined => {
      const t = g.tensors.find((x) => x.name === name);
      if (!t) return undefined;
      const b = g.read(t);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const out = new Map<string, Float32Array>();
    for (const t of g.tensors) {
      if (!t.name.endsWith('.in_sum2')) continue;
      const name = t.name.slice(0, -'.in_sum2'.length);
      const sums = f32(t.name) ?? new Float32Array(), count = Math.fround(Math.round(f32(`${name}.counts`)?.[0] ?? 0));
      out.set(name, sums.map((s) => (count > 0 ? Math.fround(s / count) : 1)));
    }
    return out;
  } finally {
    g.close();
  }
}

/** The importance matrix llama-imatrix makes from the held-out text (8 chunks of 128 tokens), made once. */
let imatrixPath: string | undefined;
function imatrix(): string {
  if (imatrixPath) return imatrixPath;
  const out = join(tmp.dir, 'imatrix.gguf');
  const args = ['-m', CODER, '-f', join(FIX, '../reference/heldout.py.txt'), '--chunks', '8', '-c', '128', '-o', out, '-t', '2'];
  execFileSync(join(bin ?? '', 'llama-imatrix'), args, { stdio: 'ignore', timeout: 120_000 });
  imatrixPath = out;
  return out;
}

/** llama-quantize --imatrix `type`; every tensor of that type must equal quantize(type, x, weights). */
function sameWithImatrix(type: 'IQ4_NL' | 'IQ4_XS'): void {
  const path = imatrix();
  const weights = readImatrixWeights(path);
  const theirs = join(tmp.dir, `llama-imatrix-${type}.gguf`);
  execFileSync(join(bin ?? '', 'llama-quantize'), ['--imatrix', path, CODER, theirs, type, '2'], { stdio: 'ignore' });
  const source = readGguf(CODER), g = readGguf(theirs);
  let compared = 0, weighted = 0;
  try {
    for (const t of g.tensors.filter((u) => u.ggmlType === type)) {
      const s = source.tensors.find((u) => u.name === t.name);
      if (!s) throw new Error(`${t.name} missing from the source`);
      const b = source.read(s);
      const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      const w = weights.get(t.name);
      if (w) weighted++;
      expect({ tensor: t.name, same: Buffer.from(quantize(type, x, w)).equals(Buffer.from(g.read(t))) }).toEqual({ tensor: t.name, same: true });
      compared++;
    }
  } finally {
    g.close();
    source.close();
  }
  console.log(`--imatrix ${type}: ${compared} tensors identical (${weighted} with importance weights)`);
  expect(weighted).toBeGreaterThan(30);
}

describe.skipIf(bin === undefined)('apr quantize iq4_nl / iq4_xs = llama-quantize (run live)', () => {
  for (const [scheme, type, ftype] of [['iq4_nl', 'IQ4_NL', 25], ['iq4_xs', 'IQ4_XS', 30]] as const) {
    it(`tiny-coder-llama ${scheme}: every tensor identical to llama-quantize ${type} [ob:${scheme.replace('_', '')}-llama-bytes] [ob:quantize-llama-identical]`, () => {
      const r = check(CODER, scheme, type);
      expect(r.types[type]).toBeGreaterThan(40);
      expect(r.fileType).toEqual([ftype, ftype]);
    });
  }

  it('8 layers, n_head/n_head_kv = 4, tied, 128-value rows: attn_v Q5_K (→ Q5_1), early ffn_down Q5_K, IQ4_XS → IQ4_NL, output Q8_0, as llama-quantize [ob:iq4nl-llama-bytes] [ob:iq4xs-llama-bytes] [ob:quantize-llama-identical]', () => {
    const draft8 = gqa4EightLayers();
    const nl = check(draft8, 'iq4_nl', 'IQ4_NL'), xs = check(draft8, 'iq4_xs', 'IQ4_XS');
    expect([nl.types['Q5_1'], nl.types['Q5_K']]).toEqual([8, 1]); // attn_v Q5_K → Q5_1 (128-value rows); ffn_down 0 Q5_K
    expect(xs.types['IQ4_NL']).toBeGreaterThan(0);
    expect(nl.types['Q8_0']).toBe(1);
  });

  it('with an importance matrix: every IQ4_NL tensor of llama-quantize --imatrix equals quantize(\'IQ4_NL\', x, imatrix) [ob:iq4nl-llama-bytes]', () => sameWithImatrix('IQ4_NL'));
  it('with an importance matrix: every IQ4_XS tensor of llama-quantize --imatrix equals quantize(\'IQ4_XS\', x, imatrix) [ob:iq4xs-llama-bytes]', () => sameWithImatrix('IQ4_XS'));

  it('apr quantize --scheme iq4_xs --imatrix: the whole file tensor-identical to llama-quantize --imatrix IQ4_XS [ob:iq4xs-llama-bytes] [ob:quantize-llama-identical]', () => {
    const path = imatrix(), theirs = join(tmp.dir, 'llama-imatrix-IQ4_XS.gguf'), ours = join(tmp.dir, 'ours-imatrix-iq4_xs.gguf');
    execFileSync(join(bin ?? '', 'llama-quantize'), ['--imatrix', path, CODER, theirs, 'IQ4_XS', '2'], { stdio: 'ignore' });
    quantizeModel({ input: CODER, output: ours, scheme: 'iq4_xs', imatrix: path });
    const r = ggufTensorDiff(ours, theirs);
    console.log(`apr quantize --imatrix iq4_xs: ${r.tensors - r.differing.length}/${r.tensors} identical; llama.cpp's types ${JSON.stringify(r.types)}`);
    expect(r.differing).toEqual([]);
  });
});

if (bin === undefined) {
  describe('apr quantize iq4 vs llama-quantize', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}
