import { Template } from '@huggingface/jinja';
import type { TokenizerSpec } from '../../tensor/bundle.js';
import { CHATML_TEMPLATE, chatTemplateOf } from '../../tokenizer/index.js';
import { MergeConfigError } from './config.js';

/*
 * The chat templates mergekit names in `chat_template:` (mergekit/_data/chat_templates). Each text here is
 * written for this project and renders, under transformers' Jinja settings (trim_blocks, lstrip_blocks),
 * the same string as mergekit's file of that name, including its whitespace (exaone's indentation, the
 * newline after each llama3 turn, alpaca's system-message preamble).
 */
const LLAMA3 =
  "{%- for m in messages -%}{{- (bos_token if loop.first else '') + '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + (m['content'] | trim) + '<|eot_id|>\\n' -}}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}";

const MISTRAL =
  "{%- set has_system = messages[0]['role'] == 'system' -%}{%- set turns = messages[1:] if has_system else messages -%}{{- bos_token -}}" +
  '{%- for m in turns -%}' +
  "{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}{{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') -}}{%- endif -%}" +
  "{%- if m['role'] == 'user' -%}{{- ' [INST] ' + (messages[0]['content'] + '\\n\\n' if loop.first and has_system else '') + m['content'] + ' [/INST]' -}}" +
  "{%- elif m['role'] == 'assistant' -%}{{- ' ' + m['content'] + eos_token -}}" +
  "{%- else -%}{{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') -}}{%- endif -%}" +
  '{%- endfor -%}';

const ALPACA =
  "{%- set systems = messages | selectattr('role', 'equalto', 'system') | list -%}{{- ((systems | last).content | trim if systems else '') + '\\n\\n' -}}" +
  "{%- for m in messages -%}{%- if m['role'] in ['user', 'assistant', 'user_context'] -%}" +
  "{{- ('### Instruction:\\n' if m['role'] == 'user' else ('### Response:\\n' if m['role'] == 'assistant' else '### Input:\\n')) + (m['content'] | trim) + ('' if loop.last else '\\n\\n') -}}" +
  '{%- endif -%}{%- endfor -%}' +
  "{%- if add_generation_prompt and messages[-1]['role'] != 'assistant' -%}{{- '### Response:\\n' -}}{%- endif -%}";

const EXAONE =
  "{%- for m in messages -%}{%- if loop.first and m['role'] != 'system' -%}{{- '        [|system|][|endofturn|]\\n\\n' -}}{%- endif -%}" +
  "{{- '    [|' + m['role'] + '|]' + m['content'] + '\\n' + ('        \\n\\n' if m['role'] == 'user' else '        [|endofturn|]\\n\\n') -}}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '    [|assistant|]\\n' -}}{%- endif -%}";

export const NAMED_CHAT_TEMPLATES: Readonly<Record<string, string>> = { alpaca: ALPACA, chatml: CHATML_TEMPLATE, exaone: EXAONE, llama3: LLAMA3, mistral: MISTRAL };

/** The most common template among the models (first seen wins a tie), compared without surrounding whitespace. */
function pluralityTemplate(specs: readonly (TokenizerSpec | undefined)[]): string | undefined {
  const counts = new Map<string, number>();
  for (const spec of specs) {
    const t = spec ? chatTemplateOf(spec)?.trim() : undefined;
    if (t) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const [t, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = t;
  return best;
}

/**
 * mergekit's `chat_template:` — `auto` (the plurality template of the input models, nothing when none has
 * one), a name from NAMED_CHAT_TEMPLATES, or a literal Jinja template (at least 20 characters with a `{`,
 * as mergekit requires; it must also compile). Undefined: keep the output tokenizer's template.
 */
export function selectChatTemplate(choice: string, models: readonly (TokenizerSpec | undefined)[], configPath: string): string | undefined {
  if (choice === 'auto') return pluralityTemplate(models);
  const named = NAMED_CHAT_TEMPLATES[choice];
  if (named !== undefined) return named;
  if (choice.length < 20 || !choice.includes('{')) {
    throw new MergeConfigError(configPath, 'chat_template', `'${choice}' is neither auto, a template name (${Object.keys(NAMED_CHAT_TEMPLATES).join(', ')}) nor a Jinja template`);
  }
  try {
    new Template(choice);
  } catch (err) {
    throw new MergeConfigError(configPath, 'chat_template', `the Jinja template does not compile: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  return choice;
}

/** The tokenizer with `template` as its chat template (in chat_template.jinja and tokenizer_config.json alike). */
export function withChatTemplate(spec: TokenizerSpec, template: string | undefined): TokenizerSpec {
  if (template === undefined) return spec;
  const config = spec.config && typeof spec.config['chat_template'] === 'string' ? { ...spec.config, chat_template: template } : spec.config;
  return { ...spec, chatTemplate: template, ...(config ? { config } : {}) };
}
