/** The planted faults of the `apr check` suite: what is planted, and which stage must name it. */
import { truncateSync } from 'node:fs';
import type { AprIndexEntry } from '../../src/formats/apr/layout.js';
import { DTYPES } from '../../src/tensor/dtype.js';
import {
  type Editable,
  IMPORT_ENTRY,
  editFloats,
  layoutOf,
  metadataOffsetOf,
  patchBytes,
  rebuildApr,
  removeTensor,
  replaceTensor,
  rewriteApr,
  swapLayers,
  tensorDataOffset,
} from './check-helpers.js';

export interface Sources {
  /** The fixture imported to APR with golden and provenance. */
  base: string;
  /** tiny-coder-llama-Q4_K_M.gguf imported to APR (Q4_K and Q6_K tensors). */
  q4: string;
}

export interface Fault {
  name: string;
  plant(dst: string, src: Sources): string;
  /** Each listed stage must FAIL with details matching `re`; every stage before the first must not fail. */
  expect: { stage: number; re: RegExp }[];
  /** Needs the forward passes (stages 9-10). */
  forward?: boolean;
}

const edit = (fn: (b: Editable) => void) => (dst: string, src: Sources): string => rewriteApr(src.base, dst, fn);
const rebuild = (fn: (p: { entries: AprIndexEntry[]; metadata: Record<string, unknown> }) => void) => (dst: string, src: Sources): string => rebuildApr(src.base, dst, fn);
const flip = (at: (path: string) => number, mask = 0x01, fix = false) => (dst: string, src: Sources): string =>
  patchBytes(src.base, dst, (b) => {
    const i = at(src.base);
    b[i] = (b[i] as number) ^ mask;
  }, fix);

const UP3 = 'model.layers.3.mlp.up_proj.weight';
/** 0x7e00: an f16 quiet NaN. */
const F16_NAN = [0x00, 0x7e] as const;
/** 0x7c00: f16 +Inf. */
const F16_INF = [0x00, 0x7c] as const;

function seeded(n: number): Float32Array {
  const v = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  return v;
}

const f32 = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer);

export const FAULTS: Fault[] = [
  // ---- stage 1: container (byte-level, CRCs left stale unless said) ----
  { name: 'flipped byte in the header (tensor_count)', plant: flip(() => 8), expect: [{ stage: 1, re: /header\.crc: stored 0x[0-9a-f]{8}, computed/ }] },
  {
    name: 'flipped byte in the metadata ("num_heads":8 → 9)',
    plant: flip((p) => metadataOffsetOf(p, '"num_heads":8') + '"num_heads":'.length),
    expect: [{ stage: 1, re: /footer\.crc/ }, { stage: 2, re: /num_heads: 9 does not divide hidden_size 256/ }],
  },
  {
    name: 'flipped byte in the tensor index (dims of lm_head.weight)',
    plant: flip((p) => layoutOf(p).tensorIndexOffset + 2 + 'lm_head.weight'.length + 2),
    expect: [{ stage: 1, re: /footer\.crc/ }, { stage: 3, re: /index\[0\]\.size: 'lm_head\.weight' is \d+ bytes but F32\[4097, 256\]/ }],
  },
  {
    name: 'flipped byte in tensor data',
    plant: flip((p) => tensorDataOffset(p, UP3) + 1001, 0x40),
    expect: [{ stage: 1, re: /footer\.crc/ }, { stage: 3, re: /metadata\.integrity\.model\.layers\.3\.mlp\.up_proj\.weight: stored bytes hash to/ }],
  },
  {
    name: 'truncated file (last 1000 bytes cut)',
    plant: (dst, src) => {
      patchBytes(src.base, dst, (b) => b);
      truncateSync(dst, layoutOf(src.base).dataOffset + (layoutOf(src.base).entries.at(-1)?.offset ?? 0) + 10);
      return dst;
    },
    expect: [{ stage: 1, re: /file: truncated: .*'model\.norm\.weight'.*runs past/ }],
  },
  {
    name: 'unsupported version (2 → 3, header CRC recomputed)',
    plant: (dst, src) => patchBytes(src.base, dst, (b) => void (b[4] = 3), true),
    expect: [{ stage: 1, re: /header\.version: 3\.0, expected 2\.x/ }],
  },
  // ---- stage 2: metadata (CRC-valid) ----
  { name: 'head count does not divide hidden size', plant: edit((b) => void (b.config.num_heads = 12)), expect: [{ stage: 2, re: /num_heads: 12 does not divide hidden_size 256/ }] },
  { name: 'KV head count does not divide head count', plant: edit((b) => void (b.config.num_kv_heads = 3)), expect: [{ stage: 2, re: /num_kv_heads: 3 does not divide num_heads 8/ }] },
  {
    name: 'stale param_count in the metadata',
    plant: rebuild((p) => void (p.metadata['param_count'] = 5639425)),
    expect: [{ stage: 2, re: /metadata\.param_count: 5639425, the index holds 5639424 parameters/ }],
  },
  // ---- stage 3: tensor index (CRC-valid) ----
  {
    name: 'duplicated index entry',
    plant: rebuild((p) => void p.entries.splice(11, 0, { ...(p.entries[10] as AprIndexEntry) })),
    expect: [{ stage: 3, re: /index\[11\]\.name: duplicate tensor name 'model\.layers\.0\.self_attn\.v_proj\.weight'/ }],
  },
  {
    name: 'index not sorted by name',
    plant: rebuild((p) => void p.entries.splice(3, 2, p.entries[4] as AprIndexEntry, p.entries[3] as AprIndexEntry)),
    expect: [{ stage: 3, re: /index\[4\]\.name: '.*' is out of order/ }],
  },
  {
    name: 'misaligned tensor offset',
    plant: rebuild((p) => void ((p.entries[5] as AprIndexEntry).offset += 32)),
    expect: [{ stage: 3, re: /index\[5\]\.offset: '.*' at \d+ is not 64-byte aligned/ }],
  },
  {
    name: 'overlapping tensors',
    plant: rebuild((p) => void ((p.entries[6] as AprIndexEntry).offset = (p.entries[5] as AprIndexEntry).offset)),
    expect: [{ stage: 3, re: /index\[\d\]\.offset: '.*' overlaps '.*'/ }],
  },
  {
    name: 'unknown dtype id in the index (CRCs recomputed)',
    plant: (dst, src) => patchBytes(src.base, dst, (b) => void (b[layoutOf(src.base).tensorIndexOffset + 2 + 'lm_head.weight'.length] = 77), true),
    expect: [{ stage: 3, re: /index\[0\]\.dtype: unknown dtype id 77 \('lm_head\.weight'\)/ }],
  },
  {
    name: 'stale digest (tensor bytes changed, CRCs recomputed)',
    plant: flip((p) => tensorDataOffset(p, UP3) + 4003, 0x40, true),
    expect: [{ stage: 3, re: /metadata\.integrity\.model\.layers\.3\.mlp\.up_proj\.weight: stored bytes hash to .* \(stale digest/ }],
  },
  {
    name: 'malformed digest in metadata.integrity',
    plant: rebuild((p) => void ((p.metadata['integrity'] as Record<string, string>)['model.norm.weight'] = 'sha256:1234')),
    expect: [{ stage: 3, re: /metadata\.integrity\.model\.norm\.weight: expected "sha256:<64 hex>"/ }],
  },
  // ---- stage 4: tokenizer ----
  { name: 'vocab size disagrees with the embedding', plant: edit((b) => void (b.config.vocab_size = 4000)), expect: [{ stage: 4, re: /vocab_size: the config says 4000, model\.embed_tokens\.weight has 4096 rows/ }] },
  { name: 'missing tokenizer', plant: edit((b) => void delete b.tokenizer), expect: [{ stage: 4, re: /tokenizer: missing \(metadata\['tokenizer\.json'\] is absent\)/ }] },
  {
    name: 'unparseable tokenizer.json',
    plant: edit((b) => void (b.tokenizer && (b.tokenizer.json = b.tokenizer.json.slice(0, 5000)))),
    expect: [{ stage: 4, re: /tokenizer: does not load/ }],
  },
  {
    name: 'chat template that does not render',
    plant: edit((b) => void (b.tokenizer && (b.tokenizer.chatTemplate = '{% for m in messages %}{{ m.content }'))),
    expect: [{ stage: 4, re: /chat_template: does not render/ }],
  },
  {
    name: 'special token that does not resolve',
    plant: edit((b) => void (b.tokenizer && (b.tokenizer.config = { ...b.tokenizer.config, eos_token: '<|eot|>' }))),
    expect: [{ stage: 4, re: /tokenizer_config\.eos_token: '<\|eot\|>' is not in the vocabulary/ }],
  },
  // ---- stage 5: embedding & LM head ----
  {
    name: 'all-zero embedding row block (rows 1000-1063)',
    plant: edit((b) => editFloats(b, 'model.embed_tokens.weight', (v) => v.fill(0, 1000 * 256, 1064 * 256))),
    expect: [{ stage: 5, re: /model\.embed_tokens\.weight: 64 all-zero rows \(1000–1063\)/ }],
  },
  { name: 'untied model without lm_head', plant: edit((b) => removeTensor(b, 'lm_head.weight')), expect: [{ stage: 5, re: /lm_head\.weight: missing, and tie_word_embeddings is false/ }] },
  // ---- stage 6: attention ----
  {
    name: 'wrong k_proj shape under GQA ([256, 256] for 4 KV heads)',
    plant: edit((b) => replaceTensor(b, 'model.layers.2.self_attn.k_proj.weight', 'F32', [256, 256], f32(seeded(256 * 256)))),
    expect: [{ stage: 6, re: /model\.layers\.2\.self_attn\.k_proj\.weight: shape \[256, 256\], expected \[128, 256\] \(num_kv_heads 4 × head_dim 32 under GQA\)/ }],
  },
  { name: 'missing tensor (o_proj of layer 4)', plant: edit((b) => removeTensor(b, 'model.layers.4.self_attn.o_proj.weight')), expect: [{ stage: 6, re: /model\.layers\.4\.self_attn\.o_proj\.weight: missing tensor/ }] },
  { name: 'num_layers smaller than the stored layers', plant: edit((b) => void (b.config.num_layers = 5)), expect: [{ stage: 6, re: /num_layers: 5, but tensors exist for layer\(s\) 5/ }] },
  { name: 'invalid rope_theta (0.5)', plant: edit((b) => void (b.config.rope_theta = 0.5)), expect: [{ stage: 6, re: /rope_theta: 0\.5 \(must be finite and > 1\)/ }] },
  {
    name: 'NaN in layer 0 q_proj (attention scores, not only the value scan)',
    plant: edit((b) => editFloats(b, 'model.layers.0.self_attn.q_proj.weight', (v) => void (v[5] = NaN))),
    expect: [{ stage: 6, re: /layer 0: non-finite attention scores for the first embedding rows/ }, { stage: 8, re: /model\.layers\.0\.self_attn\.q_proj\.weight: 1 NaN/ }],
  },
  // ---- stage 7: MLP & norms ----
  {
    name: 'wrong down_proj shape',
    plant: edit((b) => replaceTensor(b, 'model.layers.1.mlp.down_proj.weight', 'F32', [256, 256], f32(seeded(256 * 256)))),
    expect: [{ stage: 7, re: /model\.layers\.1\.mlp\.down_proj\.weight: shape \[256, 256\], expected \[256, 512\]/ }],
  },
  {
    name: 'all-zero RMSNorm gain',
    plant: edit((b) => editFloats(b, 'model.layers.0.input_layernorm.weight', (v) => v.fill(0))),
    expect: [{ stage: 7, re: /model\.layers\.0\.input_layernorm\.weight: all zero/ }],
  },
  // ---- stage 8: numerical scan ----
  {
    name: 'NaN in a weight',
    plant: edit((b) => editFloats(b, 'model.layers.3.mlp.down_proj.weight', (v) => void (v[7 * 512 + 100] = NaN))),
    expect: [{ stage: 8, re: /model\.layers\.3\.mlp\.down_proj\.weight: 1 NaN and 0 Inf values .*row 7, column 100/ }],
  },
  {
    name: 'Inf in a weight',
    plant: edit((b) => editFloats(b, 'model.layers.1.self_attn.o_proj.weight', (v) => void (v[3] = Infinity))),
    expect: [{ stage: 8, re: /model\.layers\.1\.self_attn\.o_proj\.weight: 0 NaN and 1 Inf values .*row 0, column 3/ }],
  },
  {
    name: 'quantized Q6_K block with a NaN scale',
    plant: (dst, src) =>
      rewriteApr(src.q4, dst, (b) => {
        const ref = b.tensors.get('lm_head.weight');
        if (!ref || ref.dtype !== 'Q6_K') throw new Error('expected a Q6_K lm_head');
        const bytes = ref.read().slice();
        bytes.set(F16_NAN, 5 * DTYPES.Q6_K.blockBytes + 208);
        b.tensors.add(ref.name, ref.dtype, ref.shape, bytes);
      }),
    expect: [
      { stage: 5, re: /lm_head\.weight: 256 non-finite values \(first at row 5, column 0\)/ },
      { stage: 8, re: /lm_head\.weight: Q6_K block 5 \(elements 1280\.\.1535\) has scale d = NaN/ },
    ],
  },
  {
    name: 'quantized Q4_K block with an Inf dmin',
    plant: (dst, src) =>
      rewriteApr(src.q4, dst, (b) => {
        const ref = b.tensors.get('model.layers.2.mlp.gate_proj.weight');
        if (!ref || ref.dtype !== 'Q4_K') throw new Error('expected a Q4_K gate_proj');
        const bytes = ref.read().slice();
        bytes.set(F16_INF, 9 * DTYPES.Q4_K.blockBytes + 2);
        b.tensors.add(ref.name, ref.dtype, ref.shape, bytes);
      }),
    expect: [{ stage: 8, re: /model\.layers\.2\.mlp\.gate_proj\.weight: Q4_K block 9 \(elements 2304\.\.2559\) has scale dmin = Inf/ }],
  },
  // ---- stage 10: golden fingerprint & provenance ----
  {
    name: 'wrong rope_theta (10000 → 500000, valid but not the trained value)',
    plant: edit((b) => void (b.config.rope_theta = 500000)),
    expect: [{ stage: 10, re: /golden logits not reproduced: probe \d/ }],
    forward: true,
  },
  {
    name: 'swapped pair of layers (2 ↔ 3)',
    plant: edit((b) => swapLayers(b, 2, 3)),
    expect: [
      { stage: 10, re: /golden logits not reproduced: probe \d/ },
      { stage: 10, re: /metadata\.golden\.weights_digest: the fingerprint was recorded for other weights/ },
    ],
    forward: true,
  },
  {
    name: 'broken provenance chain (times out of order)',
    plant: edit((b) => void (b.provenance = [IMPORT_ENTRY, { ...IMPORT_ENTRY, op: 'quantize', time: '2024-06-01T00:00:00.000Z' }])),
    expect: [{ stage: 10, re: /provenance\[1\]\.time: 2024-06-01T00:00:00\.000Z precedes provenance\[0\]\.time/ }],
  },
  {
    name: 'provenance entry with a malformed input digest',
    plant: edit((b) => void (b.provenance = [{ ...IMPORT_ENTRY, inputDigests: ['md5:d41d8cd98f00b204e9800998ecf8427e'] }])),
    expect: [{ stage: 10, re: /provenance\[0\]\.inputDigests\[0\]: "md5:d41d8cd98f00b204e9800998ecf8427e" is not a sha256:<64 hex> digest/ }],
  },
];
