/** Stop strings on decoded text (src/serve/stop.ts): split stops, held-back text, nothing after the stop. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StopMatcher } from '../../src/serve/stop.js';

/** Feeds the pieces, then flushes; returns what was emitted and whether a stop was seen. */
function stream(stops: readonly string[], pieces: readonly string[]): { text: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let text = '';
  let stopped = false;
  for (const p of pieces) {
    const r = m.push(p);
    text += r.text;
    stopped ||= r.stopped;
  }
  return { text: text + m.flush(), stopped };
}

/** Cuts `text` at the given (sorted, in-range) offsets. */
function chunk(text: string, cuts: readonly number[]): string[] {
  const at = [0, ...cuts, text.length];
  return at.slice(1).map((end, i) => text.slice(at[i], end));
}

describe('StopMatcher', () => {
  it('a stop string split across tokens stops, and its first half is never emitted', () => {
    const m = new StopMatcher(['</s>']);
    expect(m.push('hello <')).toEqual({ text: 'hello ', stopped: false });
    expect(m.push('/')).toEqual({ text: '', stopped: false });
    expect(m.push('s> and more')).toEqual({ text: '', stopped: true });
    expect(m.stopped).toBe(true);
  });

  it('held-back text is released as soon as it cannot start a stop string', () => {
    const m = new StopMatcher(['STOP']);
    expect(m.push('a ST')).toEqual({ text: 'a ', stopped: false });
    // 'STO' may still become STOP; 'STOx' cannot
    expect(m.push('O')).toEqual({ text: '', stopped: false });
    expect(m.push('x')).toEqual({ text: 'STOx', stopped: false });
    expect(m.stopped).toBe(false);
  });

  it('holds back the longest suffix that starts any of several stops', () => {
    const m = new StopMatcher(['abcd', 'cx']);
    // 'abc' starts 'abcd' (3 chars); 'c' starts 'cx' (1 char): the longer hold wins
    expect(m.push('zzabc')).toEqual({ text: 'zz', stopped: false });
    expect(m.push('x')).toEqual({ text: 'ab', stopped: true });
  });

  it('the text before the stop in the same piece is emitted; nothing after it, nor anything pushed later', () => {
    const m = new StopMatcher(['\n\n']);
    expect(m.push('one\n\ntwo')).toEqual({ text: 'one', stopped: true });
    expect(m.push('three')).toEqual({ text: '', stopped: true });
    expect(m.flush()).toBe('');
  });

  it('the earliest of several stops in one piece wins', () => {
    expect(new StopMatcher(['B', 'A']).push('xxAyyB')).toEqual({ text: 'xx', stopped: true });
  });

  it('flush returns what was held back when generation ends without a stop, and only once', () => {
    const m = new StopMatcher(['<|end|>']);
    expect(m.push('done <|en')).toEqual({ text: 'done ', stopped: false });
    expect(m.flush()).toBe('<|en');
    expect(m.flush()).toBe('');
  });

  it('without stop strings every piece passes straight through', () => {
    const m = new StopMatcher([]);
    expect(m.push('ab')).toEqual({ text: 'ab', stopped: false });
    expect(m.push('')).toEqual({ text: '', stopped: false });
    expect(m.flush()).toBe('');
  });

  it('a stop at the very start emits nothing', () => {
    expect(stream(['##'], ['#', '#', 'tail'])).toEqual({ text: '', stopped: true });
  });

  it('multi-byte characters (surrogate pairs) around a stop survive intact', () => {
    expect(stream(['🛑'], ['é', '😀\uD83D', '\uDED1x'])).toEqual({ text: 'é😀', stopped: true });
  });

  // Stop sets in which no stop is a substring of another: then the first stop to complete while streaming is
  // also the one that starts first, so the result cannot depend on how the text was cut into tokens.
  const substringFree = fc
    .uniqueArray(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 })
    .filter((ss) => ss.every((s, i) => ss.every((t, j) => i === j || !t.includes(s))));
  const textAndCuts = fc
    .string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), maxLength: 24 })
    .chain((text) => fc.tuple(fc.constant(text), fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, text.length - 1) }), { maxLength: text.length })));

  it('any chunking emits the same text as the whole text: the prefix before the first stop', () => {
    fc.assert(
      fc.property(substringFree, textAndCuts, (stops, [text, cuts]) => {
        const sorted = [...cuts].filter((c) => c < text.length).sort((a, b) => a - b);
        const starts = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
        const first = starts.length === 0 ? -1 : Math.min(...starts);
        const expected = { text: first < 0 ? text : text.slice(0, first), stopped: first >= 0 };
        expect(stream(stops, chunk(text, sorted))).toEqual(expected);
        expect(stream(stops, [text])).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('never holds back more than the longest stop minus one character, and never emits past a stop', () => {
    fc.assert(
      fc.property(substringFree, fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), maxLength: 3 }), { maxLength: 12 }), (stops, pieces) => {
        const longest = Math.max(...stops.map((s) => s.length));
        const m = new StopMatcher(stops);
        let pushed = '';
        let emitted = '';
        for (const p of pieces) {
          pushed += p;
          const r = m.push(p);
          emitted += r.text;
          expect(pushed.startsWith(emitted)).toBe(true);
          if (r.stopped) break;
          expect(pushed.length - emitted.length).toBeLessThanOrEqual(longest - 1);
          expect(stops.some((s) => emitted.includes(s))).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });
});
