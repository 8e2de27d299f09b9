import { FormatError } from '../../formats/errors.js';
import type { ChatMessage, ChatTemplateOptions } from '../../tokenizer/index.js';
import { type JsonlRecord, optionalStringField, stringField } from './jsonl.js';

/** One training sequence: its tokens and which of them are loss targets (mask[i] = 1: tokens[i] is predicted). */
export interface TokenExample {
  readonly tokens: Int32Array;
  readonly mask: Uint8Array;
  /** `file:line` of the record it comes from. */
  readonly where: string;
}

/** What the readers need from a tokenizer. */
export interface DataTokenizer {
  readonly eosTokenId: number | undefined;
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
}

function messagesOf(r: JsonlRecord): ChatMessage[] {
  const instruction = stringField(r, 'instruction');
  const system = optionalStringField(r, 'system');
  return [...(system === undefined ? [] : [{ role: 'system', content: system }]), { role: 'user', content: instruction }];
}

/**
 * `{"instruction","response"[,"system"]}` rendered with the chat template: the prompt (with the assistant
 * opener) is not trained on, the response and the template's end-of-turn are (trl's `completion_only_loss`,
 * on by default for prompt-completion data; `completionOnly` false trains on every token after the first).
 * The two parts are tokenized apart (the template already holds any BOS, as with transformers'
 * apply_chat_template) so that the mask boundary is exact. Truncated to `maxSeqLen` tokens; a record with no
 * response token left is undefined.
 */
export function instructExample(r: JsonlRecord, tok: DataTokenizer, maxSeqLen: number, completionOnly = true): TokenExample | undefined {
  const messages = messagesOf(r);
  const response = stringField(r, 'response');
  const prompt = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
  const full = tok.applyChatTemplate([...messages, { role: 'assistant', content: response }], { addGenerationPrompt: false });
  if (!full.startsWith(prompt)) throw new FormatError(r.where, 'chat_template', 'the rendered prompt is not a prefix of the rendered conversation; the template cannot mask the response');
  const p = tok.encode(prompt, { addSpecialTokens: false });
  const a = tok.encode(full.slice(prompt.length), { addSpecialTokens: false });
  const n = Math.min(maxSeqLen, p.length + a.length);
  if (n <= p.length) return undefined;
  const tokens = Int32Array.from([...p, ...a].slice(0, n));
  const mask = new Uint8Array(n);
  mask.fill(1, completionOnly ? p.length : 1);
  return { tokens, mask, where: r.where };
}

/**
 * `{"text"}`: the text's tokens (with the tokenizer's own special tokens, then EOS) cut into consecutive
 * chunks of at most `maxSeqLen`; every token after the first of a chunk is a target. Chunks shorter than two
 * tokens are dropped.
 */
export function completionExamples(r: JsonlRecord, tok: DataTokenizer, maxSeqLen: number): TokenExample[] {
  const text = stringField(r, 'text');
  const ids = tok.encode(text, { addSpecialTokens: true });
  if (tok.eosTokenId !== undefined) ids.push(tok.eosTokenId);
  const out: TokenExample[] = [];
  for (let s = 0; s < ids.length; s += maxSeqLen) {
    const chunk = ids.slice(s, s + maxSeqLen);
    if (chunk.length < 2) continue;
    const mask = new Uint8Array(chunk.length).fill(1);
    mask[0] = 0;
    out.push({ tokens: Int32Array.from(chunk), mask, where: r.where });
  }
  return out;
}
