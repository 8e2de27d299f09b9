/** Which fields of a JSONL row hold its text (src/data/fields.ts) and text normalisation for n-grams (src/data/hash.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullText, rowText } from '../../src/data/fields.js';
import { gramKeys, hashTokens, textKey, tokens } from '../../src/data/hash.js';

describe('rowText', () => {
  it('messages: non-assistant contents form the prompt, assistant contents the response, each joined with newlines', () => {
    const t = rowText({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'U1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'U2' }, { role: 'assistant', content: 'A2' }] });
    expect(t).toEqual({ kind: 'messages', prompt: 'S\nU1\nU2', response: 'A1\nA2', parts: ['S', 'U1', 'U2', 'A1', 'A2'], emptyFields: [] });
    expect(fullText(t)).toBe('S\nU1\nU2\nA1\nA2');
  });

  it('messages: a missing or non-string content counts as empty; an empty list is reported too', () => {
    const t = rowText({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }, 'junk', { role: 'assistant', content: 'ok' }] });
    expect([t.prompt, t.response, t.parts, t.emptyFields]).toEqual(['\n', 'ok', ['ok'], ['messages']]);
    expect(rowText({ messages: [] })).toEqual({ kind: 'messages', prompt: '', response: '', parts: [], emptyFields: ['messages'] });
  });

  it('precedence: messages, then instruction, then prompt, then text', () => {
    const all = { messages: [{ role: 'user', content: 'm' }], instruction: 'i', response: 'r', prompt: 'p', completion: 'c', text: 't' };
    expect(rowText(all).kind).toBe('messages');
    const { messages: _m, ...noMessages } = all;
    expect(rowText(noMessages)).toMatchObject({ kind: 'instruction', prompt: 'i', response: 'r' });
    const { instruction: _i, ...noInstruction } = noMessages;
    // 'response' is present too, but prompt rows prefer 'completion'
    expect(rowText(noInstruction)).toMatchObject({ kind: 'prompt', prompt: 'p', response: 'c' });
    expect(rowText({ text: 't', other: 'x' })).toEqual({ kind: 'text', prompt: '', response: '', parts: ['t'], emptyFields: [] });
    expect(rowText({ title: 'x', body: 'y' })).toEqual({ kind: 'none', prompt: '', response: '', parts: [], emptyFields: [] });
  });

  it('messages that are not a list fall through to the next rule', () => {
    expect(rowText({ messages: 'hello', text: 't' }).kind).toBe('text');
  });

  it('instruction rows append input to the prompt, and take response before output', () => {
    expect(rowText({ instruction: 'Add', input: '1 2', output: '3' })).toEqual({ kind: 'instruction', prompt: 'Add\n1 2', response: '3', parts: ['Add\n1 2', '3'], emptyFields: [] });
    expect(rowText({ instruction: 'Add', input: '', response: 'r', output: 'o' })).toMatchObject({ prompt: 'Add', response: 'r' });
  });

  it('names the empty or missing side by the key the row uses', () => {
    expect(rowText({ instruction: 'x', output: '' }).emptyFields).toEqual(['output']);
    expect(rowText({ instruction: 'x' }).emptyFields).toEqual(['response']);
    expect(rowText({ prompt: 3, response: 'r' })).toEqual({ kind: 'prompt', prompt: '', response: 'r', parts: ['r'], emptyFields: ['prompt'] });
    expect(rowText({ prompt: 'p' }).emptyFields).toEqual(['completion']);
    expect(rowText({ text: null })).toEqual({ kind: 'text', prompt: '', response: '', parts: [], emptyFields: ['text'] });
  });
});

describe('tokens', () => {
  it('words are runs of letters, digits and _, every other non-space character is a token of its own', () => {
    expect(tokens('def  F(x_1):\n\treturn x_1**2')).toEqual(['def', 'f', '(', 'x_1', ')', ':', 'return', 'x_1', '*', '*', '2']);
    expect(tokens('Überstraße 42€')).toEqual(['überstraße', '42', '€']);
    expect(tokens(' \n\t ')).toEqual([]);
  });

  const word = fc.string({ unit: fc.constantFrom('a', 'B', 'z', 'Q', '0', '9', '_'), minLength: 1, maxLength: 5 });
  const punct = fc.constantFrom('(', ')', ':', '.', ',', '*', '"', "'", '#', '{');
  const space = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0'), minLength: 1, maxLength: 3 });
  const piece = fc.oneof(word, punct);
  /** Tokens laid out with random whitespace: required between two words (else they merge), optional elsewhere. */
  const layout = fc.array(fc.tuple(piece, space, fc.boolean()), { minLength: 1, maxLength: 12 });

  function render(parts: readonly (readonly [string, string, boolean])[], flipCase: boolean): string {
    let out = '';
    parts.forEach(([p, ws, gap], i) => {
      const next = parts[i + 1]?.[0];
      const isWord = (s: string | undefined): boolean => s !== undefined && /^\w/.test(s);
      out += (flipCase ? [...p].map((c, j) => (j % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('') : p) + (gap || (isWord(p) && isWord(next)) ? ws : '');
    });
    return out;
  }

  it('whitespace and case never change the tokens, the n-grams or the text key', () => {
    fc.assert(
      fc.property(layout, (parts) => {
        const plain = parts.map(([p]) => p.toLowerCase());
        const spaced = render(parts, false);
        const flipped = render(parts, true);
        expect(tokens(spaced)).toEqual(plain);
        expect(tokens(flipped)).toEqual(plain);
        expect(tokens(plain.join(' '))).toEqual(plain);
        for (const n of [1, 3]) expect(gramKeys(hashTokens(tokens(flipped)), n)).toEqual(gramKeys(hashTokens(plain), n));
        expect(textKey(flipped)).toBe(textKey(plain.join(' ')));
      }),
      { numRuns: 300 },
    );
  });

  it('different token sequences give different n-gram keys and text keys', () => {
    expect(textKey('a b c')).not.toBe(textKey('a c b'));
    expect(textKey('ab c')).not.toBe(textKey('a bc'));
    const [k1, k2] = gramKeys(hashTokens(['x', 'y', 'x']), 2);
    expect(k1).not.toBe(k2);
    expect(gramKeys(hashTokens(['x', 'y']), 3)).toEqual([]);
  });
});
