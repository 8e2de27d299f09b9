import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { generate } from '../../src/model/generate.js';
import { createSession, type Session } from '../../src/model/session.js';
import { DraftTuner } from '../../src/model/draft-tuner.js';
import { checkSameTokenizer, speculativeGenerate } from '../../src/model/speculative.js';
import type { Tokenizer } from '../../src/tokenizer/index.js';
import { fixture } from '../helpers.js';

interface Reference {
  prompts: { text: string; ids: number[]; greedy_32: number[] }[];
}
const ref = JSON.parse(readFileSync(fixture('reference/tiny-coder-llama.reference.json'), 'utf8')) as Reference;

let target: Session;
let draft: Session;
beforeAll(() => {
  target = createSession(openModel(fixture('gguf/tiny-coder-llama-f32.gguf')));
  draft = createSession(openModel(fixture('gguf/tiny-draft-llama-f32.gguf')));
});

const N = 24;

describe('speculative decoding, greedy (op-speculative-v1)', () => {
  it('equals plain greedy decoding on every reference prompt for k = 1..8 [ob:spec-greedy-identical]', () => {
    expect(ref.prompts.length).toBe(7);
    let drafted = 0;
    let accepted = 0;
    for (const p of ref.prompts) {
      // no stop tokens: compare the full 24-token continuation, and against transformers' greedy_32 prefix too
      const plain = generate(target.model, p.ids, { maxTokens: N });
      expect(plain.ids, p.text).toEqual(p.greedy_32.slice(0, N));
      for (let k = 1; k <= 8; k++) {
        // adaptive off: every round verifies k proposals (or fewer only at the end), the batched path under test
        const s = speculativeGenerate(target.model, draft.model, p.ids, { maxTokens: N, k, adaptive: false, draftPMin: 0 });
        expect(s.ids, `${p.text} k=${k}`).toEqual(plain.ids);
        drafted += s.stats.drafted;
        accepted += s.stats.accepted;
      }
    }
    // a draft that is never accepted would make the comparison trivial; tiny-draft agrees with the target often
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(drafted);
  });

  it('equals plain greedy decoding whatever the draft p-min, adaptive or not; a draft that is the target itself is always accepted', () => {
    for (const p of ref.prompts.slice(0, 3)) {
      const plain = generate(target.model, p.ids, { maxTokens: N });
      for (const draftPMin of [0, 0.5, 1]) {
        for (const adaptive of [true, false]) expect(speculativeGenerate(target.model, draft.model, p.ids, { maxTokens: N, k: 4, draftPMin, adaptive }).ids, `${p.text} p-min ${draftPMin}`).toEqual(plain.ids);
      }
      // p-min 1: the draft never proposes, so every round is one plain target step
      const none = speculativeGenerate(target.model, draft.model, p.ids, { maxTokens: N, k: 4, draftPMin: 1 });
      expect(none.stats.drafted).toBe(0);
      expect(none.stats.rounds).toBe(N);
      // the draft model speculating for itself (greedy, fixed k): every proposal is accepted
      const self = speculativeGenerate(draft.model, draft.model, p.ids, { maxTokens: N, k: 4, draftPMin: 0, adaptive: false });
      expect(self.ids).toEqual(generate(draft.model, p.ids, { maxTokens: N }).ids);
      expect(self.stats.acceptanceRate).toBe(1);
      expect(self.stats.tokensPerRound).toBeGreaterThan(4);
    }
    expect(() => speculativeGenerate(target.model, draft.model, [1, 2], { maxTokens: 4, k: 2, draftPMin: 1.5 })).toThrow(/p-min/);
  });

  it('the draft tuner verifies k proposals when extra rows are cheap and none when they are dear', () => {
    const tuner = (rowCost: number, acceptance: number): DraftTuner => {
      const t = new DraftTuner(4);
      for (let n = 1; n <= 5; n++) t.recordVerify(n, 1 + rowCost * (n - 1));
      t.recordDraft(1, 0.1);
      t.recordAcceptance(1000, 1000 * acceptance);
      return t;
    };
    expect(new DraftTuner(4).choose()).toBe(0); // nothing measured yet: one plain step first
    expect(tuner(0.05, 0.9).choose()).toBe(4);
    expect(tuner(1, 0.7).choose()).toBe(0);
    const mid = tuner(0.3, 0.7).choose();
    expect(mid).toBeGreaterThan(0);
    expect(mid).toBeLessThan(4);
  });

  it('stops at a stop token and honours maxTokens like plain decoding', () => {
    const p = ref.prompts[0];
    if (!p) throw new Error('no prompt');
    const stop = p.greedy_32[5] as number;
    const plain = generate(target.model, p.ids, { maxTokens: 20, stopTokens: [stop] });
    const spec = speculativeGenerate(target.model, draft.model, p.ids, { maxTokens: 20, k: 4, stopTokens: [stop] });
    expect(spec.ids).toEqual(plain.ids);
    expect(spec.stopReason).toBe('stop');
    expect(spec.stopToken).toBe(stop);
    for (const m of [0, 1, 2, 7]) expect(speculativeGenerate(target.model, draft.model, p.ids, { maxTokens: m, k: 4 }).ids).toEqual(p.greedy_32.slice(0, m));
  });

  it('is deterministic for a seed when sampling', () => {
    const ids = ref.prompts[1]?.ids ?? [];
    const opts = { maxTokens: 16, k: 3, temperature: 0.9, topK: 40, seed: 7 };
    const a = speculativeGenerate(target.model, draft.model, ids, opts);
    const b = speculativeGenerate(target.model, draft.model, ids, opts);
    const c = speculativeGenerate(target.model, draft.model, ids, { ...opts, seed: 8 });
    expect(b.ids).toEqual(a.ids);
    expect(c.ids).not.toEqual(a.ids);
  });

  it('rejects a draft with another vocabulary and k < 1', () => {
    const fake = { ...draft.model, config: { ...draft.model.config, vocab_size: 100 } };
    expect(() => speculativeGenerate(target.model, fake, [1, 2], { maxTokens: 4, k: 2 })).toThrow(/vocab_size 100 differs/);
    expect(() => speculativeGenerate(target.model, draft.model, [1, 2], { maxTokens: 4, k: 0 })).toThrow(/k must be/);
  });
});

describe('draft/target tokenizer check', () => {
  it('accepts the shared tokenizer and names the first differing token otherwise', () => {
    expect(() => checkSameTokenizer(target.tokenizer, draft.tokenizer, 'draft.gguf')).not.toThrow();
    const t = draft.tokenizer;
    const renamed: Tokenizer = Object.assign(Object.create(Object.getPrototypeOf(t) as object) as Tokenizer, t, { idToToken: (id: number) => (id === 300 ? 'zzz' : t.idToToken(id)) });
    expect(() => checkSameTokenizer(target.tokenizer, renamed, 'draft.gguf')).toThrow(/^draft\.gguf: tokenizer: token 300 is "zzz"/);
    const smaller: Tokenizer = Object.assign(Object.create(Object.getPrototypeOf(t) as object) as Tokenizer, t, { vocabSize: 100 });
    expect(() => checkSameTokenizer(target.tokenizer, smaller, 'draft.gguf')).toThrow(/100 tokens, the target's 4096/);
  });
});
