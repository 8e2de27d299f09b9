import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadPreferencePairs } from '../../src/train/align/data.js';
import { extractPrompt } from '../../src/train/align/chat-pairs.js';
import { chatExample, loadDataset, messagesField, renderChat, tokenizeSpans } from '../../src/train/data/index.js';
import { klDistillLoss, teacherDistribution } from '../../src/train/losses/kl-distill.js';
import { tokenExampleReport } from '../../src/train/losses/token-example.js';
import { createTrainableModel } from '../../src/train/model/index.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const CODER = fixture('models/tiny-coder-llama');
const bundle = readHfDir(fixture('models/tiny-draft-llama'));
const tok = loadTokenizer(bundle.tokenizer!, { modelConfig: bundle.config });
const tmp = tempDir('apr-chat-data-');
afterAll(() => {
  bundle.tensors.close();
  tmp.cleanup();
});

function file(name: string, lines: string[]): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}

// The outside reference: transformers' rendering and ids of a system + user conversation with the generation prompt.
const REF = JSON.parse(readFileSync(fixture('reference/tokenizer-reference.json'), 'utf8')) as { chat_template_rendered: string; chat_ids: number[] };
// Special-token ids straight from the fixture's tokenizer.json, not through the tokenizer under test.
const ADDED = (JSON.parse(readFileSync(fixture('models/tiny-coder-llama/tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] }).added_tokens;
const special = (s: string): number => ADDED.find((t) => t.content === s)!.id;
const IM_START = special('<|im_start|>'), IM_END = special('<|im_end|>');

type Msg = { role: string; content: string };
const SYSTEM = 'You are a coder.', USER1 = 'Add two numbers.', ASSIST1 = 'def add(a, b):\n    return a + b', USER2 = 'Now subtract them', ASSIST2 = 'def sub(a, b):\n    return a - b';
const CONVO: Msg[] = [
  { role: 'system', content: SYSTEM }, { role: 'user', content: USER1 }, { role: 'assistant', content: ASSIST1 },
  { role: 'user', content: USER2 }, { role: 'assistant', content: ASSIST2 },
];

/** ChatML by hand, from its documented form: `<|im_start|>{role}\n{content}<|im_end|>\n`, opener `<|im_start|>assistant\n`. */
const turn = (m: Msg): string => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
const enc = (s: string): number[] => tok.encode(s, { addSpecialTokens: false });
/** One ChatML turn as ids built from its parts: <|im_start|>, role + "\n", content, <|im_end|>, "\n". */
const turnIds = (role: string, content: string): { open: number[]; body: number[] } => ({ open: [IM_START, ...enc(`${role}\n`)], body: [...enc(content), IM_END, ...enc('\n')] });

/**
 * The expected tokens and mask of CONVO, computed here: trl with a generation-tagged ChatML template
 * (trl/chat_templates/lfm2_training.jinja, qwen3_training.jinja) trains the assistant content, `<|im_end|>` and
 * the `\n` after it; the opener `<|im_start|>assistant\n`, system and user turns carry no loss.
 */
function expected(): { tokens: number[]; mask: number[] } {
  const tokens: number[] = [], mask: number[] = [];
  for (const m of CONVO) {
    const t = turnIds(m.role, m.content);
    tokens.push(...t.open, ...t.body);
    mask.push(...t.open.map(() => 0), ...t.body.map(() => (m.role === 'assistant' ? 1 : 0)));
  }
  return { tokens, mask };
}

describe('chat data: which tokens carry loss', () => {
  it('the hand-written ChatML matches transformers\' rendering and ids of the fixture template', () => {
    expect(turn({ role: 'system', content: SYSTEM }) + turn({ role: 'user', content: USER1 }) + '<|im_start|>assistant\n').toBe(REF.chat_template_rendered);
    const t = [turnIds('system', SYSTEM), turnIds('user', USER1)].flatMap((x) => [...x.open, ...x.body]);
    expect([...t, IM_START, ...enc('assistant\n')]).toEqual(REF.chat_ids);
  });

  it('two-turn conversation: the loader\'s mask is exactly the assistant content + <|im_end|>\\n, token for token', () => {
    const p = file('two-turn.jsonl', [JSON.stringify({ messages: CONVO })]);
    const d = loadDataset(p, tok, { task: 'instruct', maxSeqLen: 512, valSplit: 0, seed: 1 });
    const e = d.train[0]!;
    const want = expected();
    expect([...e.tokens]).toEqual(want.tokens);
    expect([...e.mask]).toEqual(want.mask);
    // The same ids as encoding the whole hand-rendered text at once (what transformers' apply_chat_template does).
    expect([...e.tokens]).toEqual(enc(CONVO.map(turn).join('')));
    // Prefix up to the first assistant content equals transformers' ids for the same system + user turns.
    expect([...e.tokens.subarray(0, REF.chat_ids.length)]).toEqual(REF.chat_ids);
    expect(e.mask.subarray(0, REF.chat_ids.length).every((m) => m === 0)).toBe(true);
    expect(d.trainTokens).toBe(want.mask.reduce((a, b) => a + b, 0));
  });

  it('the masked loss is the mean CE over exactly those tokens (computed here from the logits in float64)', () => {
    const model = createTrainableModel(bundle, { method: 'full', seed: 1 });
    const e = chatExample({ where: 'x:1', value: { messages: CONVO } }, tok, { maxSeqLen: 512, assistantOnlyLoss: true })!;
    const want = expected();
    const logits = model.logits(e.tokens);
    const V = model.config.vocab_size;
    let sum = 0, count = 0;
    for (let i = 1; i < want.tokens.length; i++) {
      if (want.mask[i] !== 1) continue;
      const row = Array.from(logits.subarray((i - 1) * V, i * V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, z) => a + Math.exp(z - max), 0));
      sum += lse - row[want.tokens[i]!]!;
      count++;
    }
    const r = tokenExampleReport(model, e, false);
    expect(r.weight).toBe(count);
    // Tolerance 1e-9: both sides are float64 sums of the same float32 logits; only summation order differs.
    expect(Math.abs(r.loss - sum / count)).toBeLessThan(1e-9);
  });

  it('--no-assistant-only-loss: every token after the first is a target; no assistant turn is then allowed', () => {
    const e = chatExample({ where: 'x:1', value: { messages: CONVO } }, tok, { maxSeqLen: 512, assistantOnlyLoss: false })!;
    expect([...e.mask]).toEqual([0, ...new Array<number>(e.tokens.length - 1).fill(1)]);
    const noAssistant = { where: 'x:1', value: { messages: CONVO.slice(0, 2) } };
    expect(chatExample(noAssistant, tok, { maxSeqLen: 512, assistantOnlyLoss: false })?.tokens.length).toBe(enc(CONVO.slice(0, 2).map(turn).join('')).length);
    expect(() => chatExample(noAssistant, tok, { maxSeqLen: 512, assistantOnlyLoss: true })).toThrow(/x:1: messages: no "assistant" message/);
  });

  it('truncation keeps the start; a conversation whose first assistant token lies beyond max-seq-len is dropped', () => {
    const want = expected();
    const firstTarget = want.mask.indexOf(1);
    const p = file('trunc.jsonl', [JSON.stringify({ messages: CONVO })]);
    const cut = loadDataset(p, tok, { task: 'completion', maxSeqLen: firstTarget + 3, valSplit: 0, seed: 1 }).train[0]!;
    expect([...cut.tokens]).toEqual(want.tokens.slice(0, firstTarget + 3));
    expect([...cut.mask]).toEqual(want.mask.slice(0, firstTarget + 3));
    const q = file('trunc2.jsonl', [JSON.stringify({ messages: CONVO }), JSON.stringify({ messages: [{ role: 'user', content: 'word '.repeat(80) }, { role: 'assistant', content: 'x' }] })]);
    const d = loadDataset(q, tok, { task: 'instruct', maxSeqLen: 40, valSplit: 0, seed: 1 });
    expect(d.dropped).toBe(1);
  });

  it('a template that is not prefix-preserving is refused, naming chat_template', () => {
    const odd = { ...tok, encode: tok.encode.bind(tok), applyChatTemplate: (m: readonly Msg[], o?: { addGenerationPrompt?: boolean }) => `${m.length}:${m.map((x) => x.content).join('|')}${o?.addGenerationPrompt ? '>' : ''}` };
    expect(() => renderChat(CONVO, odd, 'f:3')).toThrow(/f:3: chat_template: the chat template is not prefix-preserving/);
  });

  it('instruct data with --no-completion-only-loss trains the prompt tokens too', () => {
    const p = file('inst.jsonl', [JSON.stringify({ instruction: USER1, response: ASSIST1 })]);
    const on = loadDataset(p, tok, { task: 'instruct', maxSeqLen: 512, valSplit: 0, seed: 1 }).train[0]!;
    const off = loadDataset(p, tok, { task: 'instruct', maxSeqLen: 512, valSplit: 0, seed: 1, completionOnlyLoss: false }).train[0]!;
    expect([...off.tokens]).toEqual([...on.tokens]);
    expect([...off.mask]).toEqual([0, ...new Array<number>(on.tokens.length - 1).fill(1)]);
    expect(on.mask.indexOf(1)).toBe(turnIds('user', USER1).open.length + turnIds('user', USER1).body.length + 1 + enc('assistant\n').length);
  });

  it('tokenizeSpans cuts the text at the span boundaries', () => {
    const r = tokenizeSpans({ text: 'ab<|im_end|>cd', spans: [[2, 12]] }, tok);
    expect(r.tokens).toEqual([...enc('ab'), IM_END, ...enc('cd')]);
    expect(r.mask).toEqual([...enc('ab').map(() => 0), 1, ...enc('cd').map(() => 0)]);
  });
});

describe('malformed chat lines: one-line FormatError naming file:line and the field', () => {
  const u = { role: 'user', content: 'hi' };
  const cases: [string, unknown, RegExp][] = [
    ['bad role', { messages: [u, { role: 'assistant', content: 'a' }, { role: 'bot', content: 'x' }] }, /:2: messages\[2\]\.role: expected "system", "user" or "assistant", got "bot"/],
    ['missing role', { messages: [u, { content: 'x' }] }, /:2: messages\[1\]\.role: missing/],
    ['content not a string', { messages: [u, { role: 'assistant', content: 3 }] }, /:2: messages\[1\]\.content: expected a string, got number/],
    ['message not an object', { messages: [u, 'hello'] }, /:2: messages\[1\]: expected a \{"role","content"\} object, got string/],
    ['messages not an array', { messages: 'hello' }, /:2: messages: expected an array of \{"role","content"\} messages, got string/],
    ['messages empty', { messages: [] }, /:2: messages: empty/],
  ];
  cases.forEach(([what, rec, msg], i) => {
    it(what, () => {
      const p = file(`badchat${i}.jsonl`, [JSON.stringify({ messages: [u, { role: 'assistant', content: 'ok' }] }), JSON.stringify(rec)]);
      let err: unknown;
      try {
        loadDataset(p, tok, { task: 'instruct', maxSeqLen: 64, valSplit: 0.5, seed: 1 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message.startsWith(`${p}:2: `)).toBe(true);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    });
  });

  it('messagesField names the field it reads', () => {
    expect(() => messagesField({ where: 'p.jsonl:4', value: { chosen: [{ role: 'user', content: 'q' }, { role: 'assistant' }] } }, 'chosen')).toThrow(/^p\.jsonl:4: chosen\[1\]\.content: missing/);
  });

  it('apr finetune on a bad line: exit 3, one line on stderr, nothing written', () => {
    const p = file('cli-bad.jsonl', [JSON.stringify({ messages: [u, { role: 'assistant', content: 'ok' }] }), JSON.stringify({ messages: [u, { role: 'robot', content: 'x' }] })]);
    const out = join(tmp.dir, 'never');
    const r = runCli('apr', ['finetune', CODER, '--data', p, '--epochs', '1', '-o', out]);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe(`apr: error: ${p}:2: messages[1].role: expected "system", "user" or "assistant", got "robot"\n`);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  });
});

describe('conversational preference pairs (trl DPO data handling)', () => {
  const q: Msg = { role: 'user', content: 'Add two numbers.' };
  const good: Msg = { role: 'assistant', content: 'def add(a, b):\n    return a + b' };
  const bad: Msg = { role: 'assistant', content: 'print(1)' };

  it('prompt rendered with the assistant opener; each response is content + <|im_end|>\\n, no EOS appended', () => {
    const p = file('prefs.jsonl', [JSON.stringify({ prompt: [q], chosen: [good], rejected: [bad] }), JSON.stringify({ chosen: [q, good], rejected: [q, bad] })]);
    const [explicit, implicit] = loadPreferencePairs(p, tok, 256);
    const prompt = [...turnIds('user', q.content).open, ...turnIds('user', q.content).body, IM_START, ...enc('assistant\n')];
    expect(explicit).toEqual({
      chosen: [...prompt, ...turnIds('assistant', good.content).body], rejected: [...prompt, ...turnIds('assistant', bad.content).body],
      chosenFrom: prompt.length, rejectedFrom: prompt.length,
    });
    expect(implicit).toEqual(explicit); // the shared leading messages are the prompt
  });

  it('extractPrompt takes the longest common run of leading messages', () => {
    const sys: Msg = { role: 'system', content: 's' };
    expect(extractPrompt([sys, q, good, q, good], [sys, q, good, q, bad])).toEqual({ prompt: [sys, q, good, q], chosen: [good], rejected: [bad] });
  });

  const errs: [string, unknown, RegExp][] = [
    ['no shared prompt', { chosen: [q, good], rejected: [{ role: 'user', content: 'other' }, bad] }, /:1: rejected\[0\]: differs from chosen\[0\]/],
    ['identical sides', { chosen: [q, good], rejected: [q, good] }, /:1: chosen: has no message after the prompt/],
    ['bad role in chosen', { prompt: [q], chosen: [{ role: 'model', content: 'x' }], rejected: [bad] }, /:1: chosen\[0\]\.role: expected "system", "user" or "assistant", got "model"/],
    ['string prompt with message lists', { prompt: 'hi', chosen: [good], rejected: [bad] }, /:1: prompt: expected an array of \{"role","content"\} messages, got string/],
    ['rejected missing', { chosen: [q, good] }, /:1: rejected: missing/],
  ];
  errs.forEach(([what, rec, msg], i) => {
    it(`error: ${what}`, () => {
      const p = file(`badpref${i}.jsonl`, [JSON.stringify(rec)]);
      expect(() => loadPreferencePairs(p, tok, 256)).toThrow(msg);
    });
  });
});

/** Naive float64 softmax (the definition), independent of the stable log-sum-exp in src. */
function softmax(row: ArrayLike<number>, scale = 1): number[] {
  const e = Array.from(row, (v) => Math.exp(v * scale));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('masked distillation loss (loss-kl-distill-v1)', () => {
  const caseArb = fc.record({ V: fc.integer({ min: 2, max: 6 }), n: fc.integer({ min: 2, max: 6 }) }).chain(({ V, n }) => fc.record({
    V: fc.constant(V),
    s: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: n * V, maxLength: n * V }).map((a) => Float32Array.from(a)),
    t: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: n * V, maxLength: n * V }).map((a) => Float32Array.from(a)),
    tokens: fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: n, maxLength: n }),
    mask: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
    T: fc.double({ min: 0.7, max: 4, noNaN: true }),
    alpha: fc.double({ min: 0, max: 1, noNaN: true }),
  }));

  it('averages only the positions predicting a masked-in token; other gradient rows are 0 [ob:kd-masked]', () => {
    fc.assert(fc.property(caseArb, ({ V, s, t, tokens, mask, T, alpha }) => {
      const n = tokens.length;
      const scored = Array.from({ length: n - 1 }, (_v, p) => p).filter((p) => mask[p + 1] === 1);
      fc.pre(scored.length > 0);
      const P = teacherDistribution([t], V, T);
      const r = klDistillLoss(s, P, tokens, { vocab: V, temperature: T, alpha }, mask);
      let want = 0;
      for (const p of scored) {
        const row = Array.from(P.subarray(p * V, (p + 1) * V)), z = row.reduce((a, x) => a + x, 0);
        const pt = row.map((x) => x / z), qT = softmax(s.subarray(p * V, (p + 1) * V), 1 / T), q = softmax(s.subarray(p * V, (p + 1) * V));
        const kl = pt.reduce((a, x, i) => a + x * Math.log(x / qT[i]!), 0);
        want += alpha * T * T * kl + (1 - alpha) * -Math.log(q[tokens[p + 1]!]!);
      }
      want /= scored.length;
      // Tolerance 1e-9·(1 + |L|): both sides evaluate the definition in float64 on the same float32 inputs (the
      // teacher distribution P as the loss receives it); only log-sum-exp vs naive softmax and order differ.
      if (Math.abs(r.loss - want) > 1e-9 * (1 + Math.abs(want))) return false;
      if (r.tokens !== scored.length) return false;
      for (let p = 0; p < n; p++) if (!scored.includes(p) && r.dLogits.subarray(p * V, (p + 1) * V).some((g) => g !== 0)) return false;
      const ones = klDistillLoss(s, P, tokens, { vocab: V, temperature: T, alpha }, new Array<number>(n).fill(1));
      const none = klDistillLoss(s, P, tokens, { vocab: V, temperature: T, alpha });
      return ones.loss === none.loss;
    }), { numRuns: 200 });
  });
});
