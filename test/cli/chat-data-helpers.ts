/**
 * Shared data of the end-to-end chat-data tests (chat-data.test.ts, chat-distill.test.ts).
 *
 * "The loss counts only the assistant tokens" is checked through whole training runs. Every conversation ends
 * with a user turn after the last assistant turn. Those trailing user tokens can change only their own logits
 * (the model is causal), and their positions carry no loss, so changing them must leave every step bit-identical
 * (the same loss history and the same trained tensors: both tolerances 0, since the arithmetic is the same and
 * the masked rows contribute exact zeros). Changing one assistant token must change the loss. The trailing turn
 * is swapped for one of the same token length, so every tensor keeps its shape and summation order.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openModel } from '../../src/formats/open.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { fixture } from '../helpers.js';

export const CODER = fixture('models/tiny-coder-llama');
export const DRAFT = fixture('models/tiny-draft-llama');

export type Msg = { role: string; content: string };

/** Four conversations; `trailing` is the last user turn, `answer` gives each assistant content. */
function conversations(trailing: string, answer = (i: number): string => `def f():\n    return ${i}`): Msg[][] {
  return [0, 1, 2, 3].map((i) => [
    { role: 'system', content: 'You write Python.' },
    { role: 'user', content: `Write a function that returns ${i}` },
    { role: 'assistant', content: answer(i) },
    { role: 'user', content: trailing },
  ]);
}

function writeJsonl(dir: string, name: string, convos: Msg[][]): string {
  const p = join(dir, name);
  writeFileSync(p, `${convos.map((messages) => JSON.stringify({ messages })).join('\n')}\n`);
  return p;
}

const TRAILING = ['Now test it 1', 'Now test it 2'] as const;

/** The base data, the same with the trailing user turn changed, and with one assistant token changed. */
export function writeVariants(dir: string): { base: string; userChanged: string; assistantChanged: string; trailingLengths: number[]; baseTargets: number } {
  const b = readHfDir(CODER);
  const tok = loadTokenizer(b.tokenizer!, { modelConfig: b.config });
  b.tensors.close();
  const enc = (s: string): number[] => tok.encode(s, { addSpecialTokens: false });
  return {
    base: writeJsonl(dir, 'base.jsonl', conversations(TRAILING[0])),
    userChanged: writeJsonl(dir, 'user-changed.jsonl', conversations(TRAILING[1])),
    assistantChanged: writeJsonl(dir, 'assistant-changed.jsonl', conversations(TRAILING[0], (i) => `def f():\n    return ${i + 1}`)),
    trailingLengths: TRAILING.map((t) => tok.encode(t, { addSpecialTokens: false }).length),
    // The base data's loss tokens: each assistant content, its <|im_end|> and the "\n" after it.
    baseTargets: conversations(TRAILING[0]).reduce((n, c) => n + enc(c[2]?.content ?? '').length + 1 + enc('\n').length, 0),
  };
}

/** Every tensor of a model file as raw bytes. */
export function tensorsOf(path: string): Map<string, Buffer> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => [n, Buffer.from(m.tensors.get(n)!.read())]));
  } finally {
    m.tensors.close();
  }
}
