import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, promptTokenIds } from '../../src/tokenizer/index.js';

const modelDir = path.resolve(process.cwd(), '../shared/fixtures/models/tiny-coder-llama');
const tok = loadTokenizer({
  json: readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'),
  config: JSON.parse(readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
  chatTemplate: readFileSync(path.join(modelDir, 'chat_template.jinja'), 'utf8'),
});
const text = (ids: number[]): string => tok.decode(ids, { skipSpecialTokens: false });

describe('promptTokenIds: what `apr run` and speculative decoding generate from', () => {
  it('a raw prompt is encoded as is: no template, and no BOS since this tokenizer has none (bos_token null)', () => {
    const ids = promptTokenIds(tok, { prompt: 'def add(a, b):' });
    expect(tok.bosTokenId).toBeUndefined();
    expect(ids.some((id) => tok.isSpecial(id))).toBe(false);
    expect(text(ids)).toBe('def add(a, b):');
  });

  it('the chat template text becomes special tokens (<|im_start|> is one id, not its characters)', () => {
    const ids = promptTokenIds(tok, { prompt: 'hi', chat: true });
    const imStart = tok.specialTokens.get('<|im_start|>');
    expect(imStart).toBeDefined();
    expect(ids[0]).toBe(imStart);
    expect(ids.filter((id) => id === imStart)).toHaveLength(2);
    expect(text(ids)).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  });

  it('chat wraps the prompt as the newest user turn of the template, ending with the generation prompt', () => {
    const ids = promptTokenIds(tok, { prompt: 'hello there', chat: true, system: 'be brief' });
    const rendered = tok.applyChatTemplate([{ role: 'user', content: 'hello there' }], { addGenerationPrompt: true, systemPrompt: 'be brief' });
    expect(text(ids)).toBe(rendered);
    expect(rendered).toBe('<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n');
  });

  it('history makes it a chat even without chat: earlier turns come first, in order', () => {
    const history = [
      { role: 'user' as const, content: 'first question' },
      { role: 'assistant' as const, content: 'first answer' },
    ];
    const rendered = text(promptTokenIds(tok, { prompt: 'second question', history }));
    const at = ['first question', 'first answer', 'second question'].map((s) => rendered.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(rendered).toBe(tok.applyChatTemplate([...history, { role: 'user', content: 'second question' }], { addGenerationPrompt: true }));
  });
});
