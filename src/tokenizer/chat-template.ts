import { Template } from '@huggingface/jinja';
import type { TokenizerSpec } from '../tensor/bundle.js';
import { isObject, TokenizerError } from './tokenizer-json.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatTemplateOptions {
  /**
   * Append the assistant turn opener (transformers' add_generation_prompt). Default true here, since the
   * tokenizer renders prompts for generation (transformers defaults to false).
   */
  addGenerationPrompt?: boolean;
  /** A system message: prepended when the conversation has none, replacing the first one otherwise. */
  systemPrompt?: string;
  /** Render as ChatML when the tokenizer has no chat template (never used unless asked for). */
  fallback?: 'chatml';
  /** Extra template variables (tools, documents, enable_thinking, ...). */
  variables?: Record<string, unknown>;
}

/**
 * The chat template of a tokenizer: `chatTemplate` (chat_template.jinja or GGUF tokenizer.chat_template),
 * else tokenizer_config.json's `chat_template` (a string, or a list of named templates: 'default' or the first).
 */
export function chatTemplateOf(spec: TokenizerSpec): string | undefined {
  if (typeof spec.chatTemplate === 'string' && spec.chatTemplate.length > 0) return spec.chatTemplate;
  const t = spec.config?.['chat_template'];
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.filter(isObject);
    const pick = named.find((e) => e['name'] === 'default') ?? named[0];
    const template = pick?.['template'];
    if (typeof template === 'string') return template;
  }
  return undefined;
}

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The conversation with `systemPrompt` applied. */
function withSystemPrompt(messages: readonly ChatMessage[], systemPrompt: string | undefined): ChatMessage[] {
  const out = messages.map((m) => ({ ...m }));
  if (systemPrompt === undefined) return out;
  const first = out[0];
  if (first !== undefined && first.role === 'system') first.content = systemPrompt;
  else out.unshift({ role: 'system', content: systemPrompt });
  return out;
}

/** Compiles chat templates once per template text. */
export class ChatTemplateRenderer {
  private readonly compiled = new Map<string, Template>();

  constructor(
    private readonly template: string | undefined,
    /** bos_token, eos_token, ... as transformers passes its special_tokens_map. */
    private readonly specialVariables: Record<string, string>,
  ) {}

  render(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    let source = this.template;
    if (source === undefined) {
      if (opts.fallback !== 'chatml') {
        throw new TokenizerError('tokenizer_config.json', 'chat_template', 'the tokenizer has no chat template (ChatML is used only when asked for)');
      }
      source = CHATML_TEMPLATE;
    }
    const template = this.compile(source);
    return template.render({
      ...this.specialVariables,
      ...opts.variables,
      messages: withSystemPrompt(messages, opts.systemPrompt),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
    });
  }

  private compile(source: string): Template {
    let t = this.compiled.get(source);
    if (t === undefined) {
      try {
        t = new Template(source);
      } catch (e) {
        throw new TokenizerError('tokenizer_config.json', 'chat_template', `does not parse as Jinja (${(e as Error).message})`);
      }
      this.compiled.set(source, t);
    }
    return t;
  }
}
