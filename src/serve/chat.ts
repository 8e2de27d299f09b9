/** Chat messages to prompt ids through the model's chat template (or the --chat-template file), via @huggingface/jinja. */
import { ChatTemplateRenderer } from '../tokenizer/chat-template.js';
import type { ChatMessage, Tokenizer } from '../tokenizer/index.js';
import { badRequest } from './errors.js';
import type { ChatBody } from './schemas.js';

export interface CustomTemplate {
  source: string;
  /** bos_token, eos_token, ... for the template. */
  variables: Record<string, string>;
}

export type ChatFormatter = (messages: ChatBody['messages']) => number[];

/** A message's text: a string, or its text parts joined. */
function contentText(content: ChatBody['messages'][number]['content']): string {
  if (content === undefined || content === null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

export function createChatFormatter(tokenizer: Tokenizer, custom?: CustomTemplate): ChatFormatter {
  const renderer = custom ? new ChatTemplateRenderer(custom.source, custom.variables) : undefined;
  return (messages) => {
    const plain: ChatMessage[] = messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: contentText(m.content) }));
    let text: string;
    try {
      text = renderer ? renderer.render(plain, { addGenerationPrompt: true }) : tokenizer.applyChatTemplate(plain, { addGenerationPrompt: true });
    } catch (err) {
      throw badRequest(`messages: the chat template cannot render them (${(err as Error).message})`, 'messages', 'chat_template_error');
    }
    return tokenizer.encode(text, { addSpecialTokens: false });
  };
}
