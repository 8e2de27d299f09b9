/**
 * Rejected responses a small code model actually likes (issue 10, bench/align.ts): `greedy` = the model's own
 * greedy continuation of the prompt, `repeat` = the prompt's last complete line repeated. Unlike a shuffled or
 * corrupted continuation, the reference often ranks these above the real continuation, so a preference
 * objective has something to learn on held-out pairs.
 */

/** Argmax of the last position of `logits` ([n, vocab] row-major). */
function lastArgmax(logits: Float32Array, vocab: number): number {
  const base = logits.length - vocab;
  let best = 0;
  for (let v = 1; v < vocab; v++) if ((logits[base + v] as number) > (logits[base + best] as number)) best = v;
  return best;
}

/** `count` greedy tokens after `prompt` (full forward per token: the responses are short, the model tiny). */
export function greedyContinuation(logits: (t: readonly number[]) => Float32Array, vocab: number, prompt: readonly number[], count: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < count; i++) seq.push(lastArgmax(logits(seq), vocab));
  return seq.slice(prompt.length);
}

/**
 * The prompt's last complete line (its tokens up to and including the last token that ends in a newline)
 * repeated cyclically to `count` tokens; the last 6 prompt tokens when the prompt has no complete line.
 */
export function repeatedLastLine(prompt: readonly number[], decode: (ids: number[]) => string, count: number): number[] {
  const ends = prompt.map((t, i) => (decode([t]).includes('\n') ? i : -1)).filter((i) => i >= 0);
  const last = ends[ends.length - 1];
  const prev = ends.length >= 2 ? (ends[ends.length - 2] as number) : -1;
  let line = last !== undefined && last - prev >= 3 ? prompt.slice(prev + 1, last + 1) : prompt.slice(-6);
  if (line.length === 0) line = prompt.slice(-6);
  return Array.from({ length: count }, (_, i) => line[i % line.length] as number);
}
