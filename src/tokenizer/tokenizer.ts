import * as hfTokenizers from '@huggingface/tokenizers';
import type { TokenizerSpec } from '../tensor/bundle.js';
import { ChatTemplateRenderer, chatTemplateOf, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';
import { tokenizerCodecContract } from './contract.js';
import { resolveSpecialIds, specialTokenVariables, type ModelSpecialIds } from './special-tokens.js';
import { createStreamDecoder, type StreamDecoder } from './stream.js';
import { adaptForJavaScript } from './regex-compat.js';
import { parseTokenizerJson, TokenizerError } from './tokenizer-json.js';

export interface EncodeOptions {
  /** Add the tokens the post-processor adds (BOS for Llama); default true, as in Hugging Face. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** Number of ids (largest id + 1, added tokens included). */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  /** Generation stops on any of these (sorted, distinct). */
  readonly stopTokenIds: readonly number[];
  /** Special added tokens: content → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly chatTemplate: string | undefined;
  /** Special-token text inside `text` (e.g. `<|im_end|>`) encodes to the special token, as in Hugging Face. */
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The text of one token on its own (a partial UTF-8 character shows as U+FFFD; stream with createStreamDecoder). */
  decodeToken(id: number): string;
  createStreamDecoder(opts?: DecodeOptions): StreamDecoder;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  isSpecial(id: number): boolean;
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
}

/** What a generation starts from: a raw prompt, or the newest user turn of a chat. */
export interface PromptRequest {
  prompt: string;
  /** Wrap the prompt in the model's chat template as a user turn. */
  chat?: boolean;
  system?: string;
  /** Earlier turns for multi-turn chat (the prompt is the newest user turn). */
  history?: readonly ChatMessage[];
}

/** Prompt ids: the chat template when asked (or for history), else the raw prompt with the tokenizer's special tokens. */
export function promptTokenIds(tok: Tokenizer, req: PromptRequest): number[] {
  if (!req.chat && !req.history?.length) return tok.encode(req.prompt, { addSpecialTokens: true });
  const messages: ChatMessage[] = [...(req.history ?? []), { role: 'user', content: req.prompt }];
  const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true, ...(req.system !== undefined ? { systemPrompt: req.system } : {}) });
  return tok.encode(text, { addSpecialTokens: false });
}

/**
 * The part of @huggingface/tokenizers' Tokenizer used here. The package's .d.ts files use extensionless
 * relative imports, which NodeNext resolution cannot follow, so its types are restated.
 */
interface HfTokenizer {
  model: { vocab: string[] } | null;
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, { content: string; special: boolean }>;
}
type HfTokenizerConstructor = new (json: object, config: object) => HfTokenizer;
const HfTokenizerClass = (hfTokenizers as unknown as { Tokenizer: HfTokenizerConstructor }).Tokenizer;

/** What the contract-bound codec functions need from a tokenizer. */
export interface CodecCore {
  readonly vocabSize: number;
  rawEncode(text: string, addSpecialTokens: boolean): number[];
  rawDecode(ids: readonly number[], skipSpecialTokens: boolean): string;
}

/** Encodes through the `tokenizer-bpe-v1` contract. */
export function bpeEncode(core: CodecCore, text: string, addSpecialTokens: boolean): number[] {
  const out = tokenizerCodecContract.run({ op: 'encode', text, vocabSize: core.vocabSize }, () =>
    core.rawEncode(text, addSpecialTokens),
  );
  if (typeof out === 'string') throw new TypeError('encode returned a string');
  return out;
}

/** Decodes through the `tokenizer-bpe-v1` contract. */
export function bpeDecode(core: CodecCore, ids: readonly number[], skipSpecialTokens: boolean): string {
  const out = tokenizerCodecContract.run({ op: 'decode', ids, vocabSize: core.vocabSize }, () =>
    core.rawDecode(ids, skipSpecialTokens),
  );
  if (typeof out !== 'string') throw new TypeError('decode returned ids');
  return out;
}

class HfBackedTokenizer implements Tokenizer, CodecCore {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly stopTokenIds: readonly number[];
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly chatTemplate: string | undefined;
  private readonly specialIds: ReadonlySet<number>;
  private readonly renderer: ChatTemplateRenderer;

  constructor(
    private readonly hf: HfTokenizer,
    spec: TokenizerSpec,
    model: ModelSpecialIds,
  ) {
    const specials = new Map<string, number>();
    for (const [id, t] of hf.get_added_tokens_decoder()) if (t.special) specials.set(t.content, id);
    this.specialTokens = specials;
    this.specialIds = new Set(specials.values());
    this.vocabSize = hf.model === null ? 0 : hf.model.vocab.length;
    const ids = resolveSpecialIds(spec, model, (t) => hf.token_to_id(t), specials);
    this.bosTokenId = ids.bos;
    this.eosTokenId = ids.eos;
    this.padTokenId = ids.pad;
    this.stopTokenIds = ids.stop;
    this.chatTemplate = chatTemplateOf(spec);
    this.renderer = new ChatTemplateRenderer(this.chatTemplate, specialTokenVariables(spec));
  }

  rawEncode(text: string, addSpecialTokens: boolean): number[] {
    return this.hf.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  rawDecode(ids: readonly number[], skipSpecialTokens: boolean): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.hf.id_to_token(id) === undefined) {
        throw new RangeError(`decode: ${id} is not a token id (vocabulary of ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return bpeEncode(this, text, opts.addSpecialTokens ?? true);
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return bpeDecode(this, ids, opts.skipSpecialTokens ?? false);
  }

  decodeToken(id: number): string {
    return this.decode([id]);
  }

  createStreamDecoder(opts: DecodeOptions = {}): StreamDecoder {
    return createStreamDecoder((ids) => this.decode(ids, opts));
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    return this.renderer.render(messages, opts);
  }
}

export interface LoadTokenizerOptions {
  /** The model's config.json special ids (ArchConfig has the same fields): added to the stop set. */
  modelConfig?: ModelSpecialIds;
  /** Names the source in error messages. */
  source?: string;
}

/**
 * A tokenizer from a Hugging Face tokenizer.json (+ tokenizer_config.json, generation_config.json, chat
 * template), encoded and decoded by @huggingface/tokenizers, with its regexes' `\s` corrected to Unicode
 * White_Space (see regex-compat.ts). Decoding does not clean up tokenization spaces
 * unless tokenizer_config.json sets `clean_up_tokenization_spaces: true` (transformers' default since 4.45;
 * the library's own default is true).
 */
export function loadTokenizer(spec: TokenizerSpec, opts: LoadTokenizerOptions = {}): Tokenizer {
  const source = opts.source ?? 'tokenizer.json';
  const json = parseTokenizerJson(spec.json, source);
  const config = { ...(spec.config ?? {}), clean_up_tokenization_spaces: spec.config?.['clean_up_tokenization_spaces'] === true };
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizerClass({ ...adaptForJavaScript(json), added_tokens: json.added_tokens ?? [] }, config);
  } catch (e) {
    throw new TokenizerError(source, 'model', `cannot be loaded (${(e as Error).message})`);
  }
  return new HfBackedTokenizer(hf, spec, opts.modelConfig ?? {});
}
