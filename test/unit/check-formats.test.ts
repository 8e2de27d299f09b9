import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/eval/integrity/index.js';
import { readGguf } from '../../src/formats/gguf/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { fixture } from '../helpers.js';
import { GGUF_F32, GGUF_Q4KM, HF, type StageExpectation, checkCaught, scratchDir, stageRange } from './check-helpers.js';

let tmp: ReturnType<typeof scratchDir>;
beforeAll(() => {
  tmp = scratchDir('apr-check-formats-');
});
afterAll(() => tmp.cleanup());

const CLEAN = [
  HF,
  fixture('models/tiny-draft-llama'),
  GGUF_F32,
  GGUF_Q4KM,
  fixture('gguf/tiny-coder-llama-F16.gguf'),
  fixture('gguf/tiny-coder-llama-Q8_0.gguf'),
  fixture('gguf/tiny-coder-llama-Q6_K.gguf'),
  fixture('gguf/tiny-coder-llama-Q4_0.gguf'),
  fixture('gguf/tiny-draft-llama-f32.gguf'),
];

describe('apr check passes every fixture model', () => {
  for (const path of CLEAN) {
    it(`${basename(path)}: all ten stages pass [ob:check-clean-pass] [ob:check-cache-equivalence]`, () => {
      const r = runCheck(path);
      expect(r.stages.map((s) => `${s.id} ${s.status}: ${s.details}`).filter((s) => !/^\d+ PASS/.test(s))).toEqual([]);
      expect(r.stages.map((s) => s.id)).toEqual(stageRange(10));
      expect(r.stages[8]?.details).toMatch(/16 probe tokens: logits finite/);
    });
  }
});

/** File offset of a GGUF tensor's data, and the block size of its type. */
function ggufTensor(path: string, pick: (name: string, dtype: DType) => boolean): { name: string; dtype: DType; at: number } {
  const g = readGguf(path);
  g.close();
  const t = g.tensors.find((x) => pick(x.name, x.ggmlType));
  if (!t) throw new Error(`no matching tensor in ${path}`);
  return { name: t.name, dtype: t.ggmlType, at: g.dataOffset + t.offset };
}

/** A ffn tensor of `dtype` (not attn_q/attn_k, whose rows the reader permutes, so block numbers stay put). */
const ffnOf = (dtype: DType) => (name: string, d: DType): boolean => d === dtype && /^blk\.\d+\.ffn_/.test(name);
const HF_NAME: Record<string, string> = { ffn_down: 'mlp.down_proj', ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj' };
const hfName = (g: string): string => g.replace(/^blk\.(\d+)\.(ffn_\w+)\.weight$/, (_m, l: string, p: string) => `model.layers.${l}.${HF_NAME[p] ?? p}.weight`);

function copyWith(src: string, name: string, patch: (b: Uint8Array) => void): string {
  const bytes = new Uint8Array(readFileSync(src));
  patch(bytes);
  const dst = join(tmp.dir, name);
  writeFileSync(dst, bytes);
  return dst;
}

/** A GGUF copy with the f16 scale at byte `field` of block `block` of the first `dtype` ffn tensor set to `half`. */
function scaleFault(src: string, dtype: DType, block: number, field: number, half: number, label: string): { path: string; expect: StageExpectation[] } {
  const t = ggufTensor(src, ffnOf(dtype));
  const path = copyWith(src, `${label}.gguf`, (b) => new DataView(b.buffer).setUint16(t.at + block * DTYPES[dtype].blockBytes + field, half, true));
  const bs = DTYPES[dtype].blockSize;
  const value = (half & 0x3ff) === 0 ? 'Inf' : 'NaN';
  const name = hfName(t.name).replace(/\./g, '\\.');
  return { path, expect: [{ stage: 8, re: new RegExp(`${name}: ${dtype} block ${block} \\(elements ${block * bs}\\.\\.${(block + 1) * bs - 1}\\) has scale \\w+ = ${value}`) }] };
}

/** An HF folder whose files link to the fixture's, except those omitted or (re)written by `edit`. */
function hfCopy(label: string, edit: (dir: string) => void, omit: string[] = []): string {
  const dir = join(tmp.dir, label);
  mkdirSync(dir);
  for (const f of readdirSync(HF)) if (!omit.includes(f)) symlinkSync(join(HF, f), join(dir, f));
  edit(dir);
  return dir;
}

function rewriteJson(dir: string, file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(join(HF, file), 'utf8')) as Record<string, unknown>;
  edit(j);
  rmSync(join(dir, file));
  writeFileSync(join(dir, file), JSON.stringify(j));
}

/** Byte offset of the u64 `offset` field of a GGUF tensor info (found by its length-prefixed name). */
function tensorInfoOffsetField(path: string, name: string, nDims: number): number {
  const key = Buffer.alloc(8 + name.length);
  key.writeBigUInt64LE(BigInt(name.length));
  key.write(name, 8, 'utf8');
  const at = readFileSync(path).indexOf(key);
  if (at < 0) throw new Error(`tensor info ${name} not found`);
  return at + key.length + 4 + 8 * nDims + 4;
}

interface FormatFault {
  name: string;
  plant(): { path: string; expect: StageExpectation[] };
}

const FORMAT_FAULTS: FormatFault[] = [
  { name: 'GGUF Q4_K_M: Q4_K block with a NaN scale d', plant: () => scaleFault(GGUF_Q4KM, 'Q4_K', 5, 0, 0x7e00, 'q4k-nan') },
  { name: 'GGUF Q8_0: Q8_0 block with an Inf scale', plant: () => scaleFault(fixture('gguf/tiny-coder-llama-Q8_0.gguf'), 'Q8_0', 3, 0, 0x7c00, 'q8-inf') },
  { name: 'GGUF Q4_0: Q4_0 block with a NaN scale', plant: () => scaleFault(fixture('gguf/tiny-coder-llama-Q4_0.gguf'), 'Q4_0', 17, 0, 0x7e01, 'q40-nan') },
  { name: 'GGUF Q6_K: Q6_K block with a NaN scale', plant: () => scaleFault(fixture('gguf/tiny-coder-llama-Q6_K.gguf'), 'Q6_K', 2, 208, 0xfe00, 'q6k-nan') },
  {
    name: 'GGUF: flipped magic byte',
    plant: () => ({ path: copyWith(GGUF_F32, 'magic.gguf', (b) => void (b[3] = 0x58)), expect: [{ stage: 1, re: /magic: not a GGUF, APR or SafeTensors file/ }] }),
  },
  {
    name: 'GGUF: truncated file',
    plant: () => {
      const path = join(tmp.dir, 'trunc.gguf');
      copyFileSync(GGUF_F32, path);
      truncateSync(path, 20_000_000);
      return { path, expect: [{ stage: 1, re: /file: truncated: .*tensor 'blk\.\d+\.\w+\.weight'\.(offset|data): .*past the end of the/ }] };
    },
  },
  {
    name: 'GGUF: misaligned tensor offset',
    plant: () => ({
      path: copyWith(GGUF_F32, 'misaligned.gguf', (b) => {
        const at = tensorInfoOffsetField(GGUF_F32, 'blk.2.ffn_up.weight', 2);
        const v = new DataView(b.buffer);
        v.setBigUint64(at, v.getBigUint64(at, true) + 16n, true);
      }),
      expect: [{ stage: 3, re: /tensor 'blk\.2\.ffn_up\.weight'\.offset: \d+ is not a multiple of the alignment 32/ }],
    }),
  },
  {
    name: 'GGUF: head_count_kv that does not divide head_count',
    plant: () => ({
      path: copyWith(GGUF_F32, 'kvheads.gguf', (b) => {
        const key = Buffer.from('llama.attention.head_count_kv');
        const at = Buffer.from(b.buffer).indexOf(key) + key.length + 4;
        new DataView(b.buffer).setUint32(at, 3, true);
      }),
      expect: [{ stage: 2, re: /num_kv_heads: 3 does not divide num_heads 8/ }],
    }),
  },
  {
    name: 'HF folder: truncated safetensors shard',
    plant: () => ({
      path: hfCopy('hf-trunc', (d) => {
        copyFileSync(join(HF, 'model-00002-of-00003.safetensors'), join(d, 'model-00002-of-00003.safetensors'));
        truncateSync(join(d, 'model-00002-of-00003.safetensors'), 5_000_000);
      }, ['model-00002-of-00003.safetensors']),
      expect: [{ stage: 1, re: /model-00002-of-00003\.safetensors: data_offsets: tensors run past the end of the data section/ }],
    }),
  },
  {
    name: 'HF folder: num_key_value_heads that does not divide num_attention_heads',
    plant: () => ({ path: hfCopy('hf-kv', (d) => rewriteJson(d, 'config.json', (j) => void (j['num_key_value_heads'] = 3))), expect: [{ stage: 2, re: /num_kv_heads: 3 does not divide num_heads 8/ }] }),
  },
  {
    name: 'HF folder: shard index total_size disagrees with the shards',
    plant: () => ({
      path: hfCopy('hf-total', (d) => rewriteJson(d, 'model.safetensors.index.json', (j) => void ((j['metadata'] as Record<string, unknown>)['total_size'] = 123))),
      expect: [{ stage: 3, re: /model\.safetensors\.index\.json: metadata\.total_size 123, the shards hold 22557696 bytes/ }],
    }),
  },
  {
    name: 'HF folder: tokenizer.json missing',
    plant: () => ({ path: hfCopy('hf-notok', () => undefined, ['tokenizer.json']), expect: [{ stage: 4, re: /tokenizer: missing \(no tokenizer\.json in the folder\)/ }] }),
  },
];

describe(`apr check: ${FORMAT_FAULTS.length} faults planted in GGUF files and HF folders`, () => {
  for (const fault of FORMAT_FAULTS) {
    it(`${fault.name} [ob:check-faults-caught]`, () => {
      const { path, expect: expected } = fault.plant();
      expect(checkCaught(path, expected).failures).toEqual([]);
    });
  }
});
