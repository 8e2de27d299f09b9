import { readFileSync } from 'node:fs';
import type { GgufVocab } from '../../src/tokenizer/index.js';

/** Test helper: reads only the KV section of a GGUF file (v2/v3, little-endian), enough for the tokenizer keys. */
export function readGgufKv(file: string): Map<string, unknown> {
  const buf = readFileSync(file);
  let at = 0;
  const u32 = (): number => ((at += 4), buf.readUInt32LE(at - 4));
  const u64 = (): number => ((at += 8), Number(buf.readBigUInt64LE(at - 8)));
  const str = (): string => {
    const n = u64();
    at += n;
    return buf.toString('utf8', at - n, at);
  };
  const scalar: Record<number, [number, (o: number) => number | boolean]> = {
    0: [1, (o) => buf.readUInt8(o)], 1: [1, (o) => buf.readInt8(o)], 2: [2, (o) => buf.readUInt16LE(o)],
    3: [2, (o) => buf.readInt16LE(o)], 4: [4, (o) => buf.readUInt32LE(o)], 5: [4, (o) => buf.readInt32LE(o)],
    6: [4, (o) => buf.readFloatLE(o)], 7: [1, (o) => buf.readUInt8(o) !== 0], 10: [8, (o) => Number(buf.readBigUInt64LE(o))],
    11: [8, (o) => Number(buf.readBigInt64LE(o))], 12: [8, (o) => buf.readDoubleLE(o)],
  };
  const value = (type: number): unknown => {
    if (type === 8) return str();
    if (type === 9) {
      const inner = u32();
      const n = u64();
      return Array.from({ length: n }, () => value(inner));
    }
    const s = scalar[type];
    if (s === undefined) throw new Error(`GGUF type ${type}`);
    at += s[0];
    return s[1](at - s[0]);
  };
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error('not GGUF');
  at = 8;
  u64(); // tensor count
  const nKv = u64();
  const kv = new Map<string, unknown>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    kv.set(key, value(u32()));
  }
  return kv;
}

export function vocabFromKv(kv: Map<string, unknown>): GgufVocab {
  const get = <T>(k: string): T | undefined => kv.get(`tokenizer.ggml.${k}`) as T | undefined;
  const v: GgufVocab = { model: get<string>('model') ?? '', tokens: get<string[]>('tokens') ?? [] };
  const optional = {
    pre: get<string>('pre'), token_type: get<number[]>('token_type'), merges: get<string[]>('merges'),
    scores: get<number[]>('scores'), bos_token_id: get<number>('bos_token_id'), eos_token_id: get<number>('eos_token_id'),
    unknown_token_id: get<number>('unknown_token_id'), padding_token_id: get<number>('padding_token_id'),
    add_bos_token: get<boolean>('add_bos_token'), add_eos_token: get<boolean>('add_eos_token'),
    add_space_prefix: get<boolean>('add_space_prefix'),
    chat_template: kv.get('tokenizer.chat_template') as string | undefined,
  };
  for (const [k, val] of Object.entries(optional)) if (val !== undefined) (v as unknown as Record<string, unknown>)[k] = val;
  return v;
}
