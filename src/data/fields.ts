/**
 * Which fields of a JSONL row hold its text, detected per row, first match wins:
 *  1. `messages`: an array of `{role, content}` (chat). The prompt is the content of every non-assistant
 *     message, the response the content of every `assistant` message (each joined with newlines).
 *  2. `instruction` with `response` or `output` (Alpaca style; `input`, if present, is appended to the prompt).
 *  3. `prompt` with `completion` or `response`.
 *  4. `text` (plain text: prompt and response are both empty, the text is `text`).
 * A row matching none has kind `none` and no text. A field that is present but not a string counts as empty.
 */
import type { JsonObject } from './jsonl.js';

export type RowKind = 'messages' | 'instruction' | 'prompt' | 'text' | 'none';

export interface RowText {
  kind: RowKind;
  /** The prompt side ('' for text rows). */
  prompt: string;
  /** The response side ('' for text rows). */
  response: string;
  /** The text fields as separate strings (n-grams never span two of them). */
  parts: string[];
  /** Names of the text fields that are present but empty (or not strings). */
  emptyFields: string[];
}

function str(row: JsonObject, key: string): string {
  const v = row[key];
  return typeof v === 'string' ? v : '';
}

function chat(messages: unknown[]): RowText {
  const prompt: string[] = [];
  const response: string[] = [];
  let empty = 0;
  for (const m of messages) {
    const msg = typeof m === 'object' && m !== null ? (m as JsonObject) : {};
    const content = str(msg, 'content');
    if (content === '') empty++;
    (msg['role'] === 'assistant' ? response : prompt).push(content);
  }
  const p = prompt.join('\n');
  const r = response.join('\n');
  const emptyFields = empty > 0 || messages.length === 0 ? ['messages'] : [];
  return { kind: 'messages', prompt: p, response: r, parts: [...prompt, ...response].filter((s) => s !== ''), emptyFields };
}

function pair(kind: RowKind, names: readonly [string, string], prompt: string, response: string): RowText {
  const emptyFields = [prompt === '' ? names[0] : '', response === '' ? names[1] : ''].filter((s) => s !== '');
  return { kind, prompt, response, parts: [prompt, response].filter((s) => s !== ''), emptyFields };
}

function responseKey(row: JsonObject, keys: readonly string[]): string {
  return keys.find((k) => k in row) ?? keys[0] ?? '';
}

/** The text of a row, by the rules in this module's header. */
export function rowText(row: JsonObject): RowText {
  const messages = row['messages'];
  if (Array.isArray(messages)) return chat(messages);
  if ('instruction' in row) {
    const key = responseKey(row, ['response', 'output']);
    const input = str(row, 'input');
    const prompt = input === '' ? str(row, 'instruction') : `${str(row, 'instruction')}\n${input}`;
    return pair('instruction', ['instruction', key], prompt, str(row, key));
  }
  if ('prompt' in row) {
    const key = responseKey(row, ['completion', 'response']);
    return pair('prompt', ['prompt', key], str(row, 'prompt'), str(row, key));
  }
  if ('text' in row) {
    const text = str(row, 'text');
    return { kind: 'text', prompt: '', response: '', parts: text === '' ? [] : [text], emptyFields: text === '' ? ['text'] : [] };
  }
  return { kind: 'none', prompt: '', response: '', parts: [], emptyFields: [] };
}

/** All of a row's text as one string (fields joined with newlines). */
export function fullText(t: RowText): string {
  return t.parts.join('\n');
}
