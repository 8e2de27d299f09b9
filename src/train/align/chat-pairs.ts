/**
 * Conversational preference pairs, as trl's DPOTrainer prepares them (trl/data_utils.py extract_prompt and
 * trl/trainer/dpo_trainer.py): `{"prompt": [messages], "chosen": [messages], "rejected": [messages]}`, or
 * `{"chosen", "rejected"}` only, whose longest shared leading run of messages is the prompt. The prompt is rendered
 * with the chat template and the assistant opener (add_generation_prompt); each response is the rest of the
 * rendering of prompt + response, so it holds the assistant content and the template's end-of-turn. No EOS is
 * appended (trl adds one to non-conversational data only).
 */
import { FormatError } from '../../formats/errors.js';
import type { ChatMessage } from '../../tokenizer/index.js';
import { messagesField } from '../data/chat.js';
import type { DataTokenizer } from '../data/examples.js';
import type { JsonlRecord } from '../data/jsonl.js';

/** A pair as token ids before joining: the prompt and each response. */
export interface PairIds {
  readonly prompt: number[];
  readonly chosen: number[];
  readonly rejected: number[];
}

export type ChatPairTokenizer = DataTokenizer;

interface Conversation {
  readonly prompt: ChatMessage[];
  readonly chosen: ChatMessage[];
  readonly rejected: ChatMessage[];
}

const same = (a: ChatMessage | undefined, b: ChatMessage | undefined): boolean => a !== undefined && b !== undefined && a.role === b.role && a.content === b.content;

/** trl's extract_prompt for conversations: the longest common leading run of messages becomes the prompt. */
export function extractPrompt(chosen: readonly ChatMessage[], rejected: readonly ChatMessage[]): Conversation {
  let k = 0;
  while (k < chosen.length && same(chosen[k], rejected[k])) k++;
  return { prompt: chosen.slice(0, k), chosen: chosen.slice(k), rejected: rejected.slice(k) };
}

function conversation(rec: JsonlRecord): Conversation {
  const chosen = messagesField(rec, 'chosen');
  const rejected = messagesField(rec, 'rejected');
  if (rec.value['prompt'] !== undefined) return { prompt: messagesField(rec, 'prompt'), chosen, rejected };
  const c = extractPrompt(chosen, rejected);
  if (c.prompt.length === 0) throw new FormatError(rec.where, 'rejected[0]', 'differs from chosen[0]: no shared leading messages to use as the prompt (give "prompt")');
  if (c.chosen.length === 0) throw new FormatError(rec.where, 'chosen', 'has no message after the prompt it shares with rejected');
  if (c.rejected.length === 0) throw new FormatError(rec.where, 'rejected', 'has no message after the prompt it shares with chosen');
  return c;
}

/** The token ids of a conversational pair (see the file comment); a template that breaks the prefix is an error. */
export function chatPairIds(rec: JsonlRecord, tok: ChatPairTokenizer): PairIds {
  const c = conversation(rec);
  const enc = (s: string): number[] => tok.encode(s, { addSpecialTokens: false });
  const prompt = tok.applyChatTemplate(c.prompt, { addGenerationPrompt: true });
  const response = (messages: ChatMessage[], field: 'chosen' | 'rejected'): number[] => {
    const full = tok.applyChatTemplate([...c.prompt, ...messages], { addGenerationPrompt: false });
    if (!full.startsWith(prompt)) {
      throw new FormatError(rec.where, field, `the chat template's rendering of prompt + ${field} does not start with its rendering of the prompt and the assistant opener (end the prompt with a user message)`);
    }
    return enc(full.slice(prompt.length));
  };
  return { prompt: enc(prompt), chosen: response(c.chosen, 'chosen'), rejected: response(c.rejected, 'rejected') };
}
