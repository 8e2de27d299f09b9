/**
 * Conversational training data in trl's format: `{"messages":[{"role","content"}, ...]}`, rendered with the
 * model's own chat template (the renderer `apr chat` uses), with a loss mask over what the assistant says.
 *
 * trl (SFTConfig.assistant_only_loss) gets the mask from `{% generation %}` markers that its training variants of
 * the templates add (trl/chat_templates/*_training.jinja); most shipped templates have none. Here the assistant
 * spans are found by rendering incrementally instead: for an assistant message i,
 *   before = render(messages[..i), add_generation_prompt=true)   (ends with the assistant opener)
 *   through = render(messages[..i], add_generation_prompt=false)
 * and the span is through[before.length ..]. For ChatML that is the assistant content, the end-of-turn token
 * `<|im_end|>` and the newline the template writes after it: exactly what trl's generation-tagged ChatML
 * templates (lfm2_training.jinja, qwen3_training.jinja) put inside `{% generation %}`. The opener
 * `<|im_start|>assistant\n` is a prompt cue and carries no loss, as there.
 */
import { FormatError } from '../../formats/errors.js';
import type { ChatMessage } from '../../tokenizer/index.js';
import type { DataTokenizer, TokenExample } from './examples.js';
import type { JsonlRecord } from './jsonl.js';

const CHAT_ROLES: readonly string[] = ['system', 'user', 'assistant'];

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : typeof v;
}

function message(where: string, field: string, v: unknown): ChatMessage {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError(where, field, `expected a {"role","content"} object, got ${kindOf(v)}`);
  const m = v as Record<string, unknown>;
  const role = m['role'], content = m['content'];
  if (typeof role !== 'string') throw new FormatError(where, `${field}.role`, role === undefined ? 'missing (expected "system", "user" or "assistant")' : `expected a string, got ${kindOf(role)}`);
  if (!CHAT_ROLES.includes(role)) throw new FormatError(where, `${field}.role`, `expected "system", "user" or "assistant", got ${JSON.stringify(role)}`);
  if (typeof content !== 'string') throw new FormatError(where, `${field}.content`, content === undefined ? 'missing (expected a string)' : `expected a string, got ${kindOf(content)}`);
  return { role, content };
}

/** A record's field as a conversation: a non-empty array of `{role, content}`; errors name e.g. `messages[2].role`. */
export function messagesField(r: JsonlRecord, field: string): ChatMessage[] {
  const v = r.value[field];
  if (!Array.isArray(v)) throw new FormatError(r.where, field, v === undefined ? 'missing (expected an array of {"role","content"} messages)' : `expected an array of {"role","content"} messages, got ${kindOf(v)}`);
  if (v.length === 0) throw new FormatError(r.where, field, 'empty (expected at least one message)');
  return v.map((m: unknown, i) => message(r.where, `${field}[${i}]`, m));
}

/** The rendered conversation and the character spans [start, end) the assistant produces. */
export interface RenderedChat {
  readonly text: string;
  readonly spans: readonly (readonly [number, number])[];
}

const NOT_PREFIX = 'the chat template is not prefix-preserving (rendering the conversation up to';

/** Renders `messages` and locates each assistant message's span by incremental rendering (see the file comment). */
export function renderChat(messages: readonly ChatMessage[], tok: DataTokenizer, where: string): RenderedChat {
  const text = tok.applyChatTemplate(messages, { addGenerationPrompt: false });
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true });
    const through = tok.applyChatTemplate(messages.slice(0, i + 1), { addGenerationPrompt: false });
    if (!through.startsWith(before)) throw new FormatError(where, 'chat_template', `${NOT_PREFIX} messages[${i}] with the assistant opener does not prefix its rendering with messages[${i}]); the assistant tokens cannot be located`);
    if (!text.startsWith(through)) throw new FormatError(where, 'chat_template', `${NOT_PREFIX} messages[${i}] is not a prefix of the whole conversation); the assistant tokens cannot be located`);
    if (before.length < (spans.at(-1)?.[1] ?? 0)) throw new FormatError(where, 'chat_template', `${NOT_PREFIX} messages[${i}] rewrites the earlier assistant turns); the assistant tokens cannot be located`);
    if (through.length > before.length) spans.push([before.length, through.length]);
  });
  return { text, spans };
}

/**
 * Tokens of the rendered text with mask 1 on the spans. Each piece between span boundaries is encoded on its own
 * (no special tokens added: the template holds any BOS, as transformers' apply_chat_template), so a boundary never
 * falls inside a token; for ChatML the boundaries sit after `\n` and before special tokens, where the byte-level
 * BPE pre-tokenizer splits anyway, so the ids equal those of the whole text.
 */
export function tokenizeSpans(chat: RenderedChat, tok: DataTokenizer): { tokens: number[]; mask: number[] } {
  const cuts = [0, ...chat.spans.flat(), chat.text.length];
  const tokens: number[] = [], mask: number[] = [];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const piece = chat.text.slice(cuts[k], cuts[k + 1]);
    if (piece === '') continue;
    const ids = tok.encode(piece, { addSpecialTokens: false });
    tokens.push(...ids);
    mask.push(...new Array<number>(ids.length).fill(k % 2));
  }
  return { tokens, mask };
}

export interface ChatDataOptions {
  readonly maxSeqLen: number;
  /**
   * Loss only on the assistant spans (trl's `assistant_only_loss=True`); false: every token after the first
   * (trl's default, `assistant_only_loss=False`). apr defaults to true.
   */
  readonly assistantOnlyLoss: boolean;
}

/**
 * `{"messages": [...]}` as one training sequence, truncated to `maxSeqLen` keeping the start (trl's
 * `truncation_mode="keep_start"`); no EOS is appended (the template ends each turn, as in trl). Undefined when
 * no target token is left after truncation. A conversation without an assistant message has nothing to learn
 * with assistant-only loss and is an error (trl raises too).
 */
export function chatExample(r: JsonlRecord, tok: DataTokenizer, o: ChatDataOptions): TokenExample | undefined {
  const messages = messagesField(r, 'messages');
  if (o.assistantOnlyLoss && !messages.some((m) => m.role === 'assistant')) {
    throw new FormatError(r.where, 'messages', 'no "assistant" message (nothing to train on with assistant-only loss; use --no-assistant-only-loss to train on every token)');
  }
  const { tokens, mask } = tokenizeSpans(renderChat(messages, tok, r.where), tok);
  const n = Math.min(o.maxSeqLen, tokens.length);
  const m = o.assistantOnlyLoss ? Uint8Array.from(mask.slice(0, n)) : new Uint8Array(n).fill(1);
  m[0] = 0; // the first token is never predicted
  if (!m.includes(1)) return undefined;
  return { tokens: Int32Array.from(tokens.slice(0, n)), mask: m, where: r.where };
}
