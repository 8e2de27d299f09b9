/**
 * The model-level checks of `apr qa`: metadata plausibility, golden outputs, throughput floor and perplexity
 * against a stored baseline. Each returns one named PASS / FAIL / SKIP with a one-line reason.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { FormatError } from '../../formats/errors.js';
import type { Session } from '../../model/session.js';
import { generate } from '../../model/generate.js';
import type { ArchConfig } from '../../tensor/bundle.js';
import { promptTokenIds } from '../../tokenizer/index.js';
import { perplexity } from '../perplexity.js';
import { GoldenSchema } from '../integrity/golden.js';

export type QaStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface QaCheck {
  name: string;
  status: QaStatus;
  details: string;
}

export const check = (name: string, status: QaStatus, details: string): QaCheck => ({ name, status, details });

/** Metadata plausibility: the hyper-parameters of a real decoder, consistent with each other. */
export function metadataCheck(c: ArchConfig): QaCheck {
  const problems: string[] = [];
  if (c.num_heads % c.num_kv_heads !== 0) problems.push(`num_heads ${c.num_heads} not a multiple of num_kv_heads ${c.num_kv_heads}`);
  if (c.head_dim % 2 !== 0) problems.push(`head_dim ${c.head_dim} is odd (RoPE rotates pairs)`);
  if (c.head_dim * c.num_heads < c.hidden_size / 4 || c.head_dim * c.num_heads > 4 * c.hidden_size) problems.push(`heads × head_dim = ${c.head_dim * c.num_heads} far from hidden ${c.hidden_size}`);
  if (c.rope_theta < 100 || c.rope_theta > 1e8) problems.push(`rope_theta ${c.rope_theta} outside [1e2, 1e8]`);
  if (!(c.rms_norm_eps > 0 && c.rms_norm_eps <= 1e-3)) problems.push(`rms_norm_eps ${c.rms_norm_eps} outside (0, 1e-3]`);
  if (c.max_position_embeddings < 16) problems.push(`max_position_embeddings ${c.max_position_embeddings} < 16`);
  if (c.intermediate_size < c.hidden_size) problems.push(`intermediate_size ${c.intermediate_size} < hidden ${c.hidden_size}`);
  const summary = `arch=${c.architecture}, hidden=${c.hidden_size}, layers=${c.num_layers}, heads=${c.num_heads}/${c.num_kv_heads}, vocab=${c.vocab_size}, rope_theta=${c.rope_theta}, max_pos=${c.max_position_embeddings}`;
  return problems.length > 0 ? check('metadata plausibility', 'FAIL', problems.join('; ')) : check('metadata plausibility', 'PASS', summary);
}

const GoldenCaseSchema = z.object({ prompt: z.string(), expected: z.string(), max_tokens: z.number().int().positive().optional() });
export type GoldenCase = z.infer<typeof GoldenCaseSchema>;

/** A golden file: a JSON array (or JSON Lines) of {prompt, expected, max_tokens?}. */
export function readGoldenCases(file: string): GoldenCase[] {
  const raw = readFileSync(file, 'utf8').trim();
  let items: unknown;
  try {
    items = raw.startsWith('[') ? JSON.parse(raw) : raw.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  } catch (err) {
    throw new FormatError(file, 'golden', err instanceof Error ? err.message : String(err));
  }
  const parsed = z.array(GoldenCaseSchema).min(1).safeParse(items);
  if (!parsed.success) throw new FormatError(file, 'golden', `expected [{prompt, expected, max_tokens?}]: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
  return parsed.data;
}

/** Greedy completion of a raw prompt (as `apr run` encodes it): the text and the decode speed. */
function greedy(session: Session, prompt: string, maxTokens: number): { text: string; tokens: number; tps: number } {
  const ids = promptTokenIds(session.tokenizer, { prompt });
  const r = generate(session.model, ids, { maxTokens, temperature: 0, stopTokens: session.tokenizer.stopTokenIds });
  return { text: session.tokenizer.decode(r.ids, { skipSpecialTokens: true }), tokens: r.ids.length, tps: r.timing.decodeTokPerSec };
}

/** Golden outputs: the greedy text of each file case, or the greedy next token of each probe stored in the model. */
export function goldenCheck(session: Session, metadata: Record<string, unknown>, cases: GoldenCase[] | undefined): QaCheck {
  if (cases) {
    for (const [i, c] of cases.entries()) {
      const maxTokens = c.max_tokens ?? Math.max(1, session.tokenizer.encode(c.expected, { addSpecialTokens: false }).length);
      const got = greedy(session, c.prompt, maxTokens).text;
      if (got !== c.expected) return check('golden output', 'FAIL', `case ${i}: greedy text ${JSON.stringify(got)} ≠ expected ${JSON.stringify(c.expected)}`);
    }
    return check('golden output', 'PASS', `${cases.length} golden case(s): greedy text reproduced`);
  }
  const stored = GoldenSchema.safeParse(metadata['golden']);
  if (!stored.success) return check('golden output', 'SKIP', 'no golden fingerprint stored in the model and no --golden file');
  const V = session.model.config.vocab_size;
  for (const [k, p] of stored.data.probes.entries()) {
    const logits = session.model.logitsAll(p.ids).subarray((p.ids.length - 1) * V);
    let best = 0;
    for (let i = 1; i < V; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
    if (best !== p.top5_ids[0]) return check('golden output', 'FAIL', `stored probe ${k}: greedy next token ${best} ≠ recorded ${p.top5_ids[0] ?? '?'}`);
  }
  return check('golden output', 'PASS', `${stored.data.probes.length} stored golden probe(s): greedy next token reproduced`);
}

/** Upstream's default floor when --min-tps is not given. */
const DEFAULT_MIN_TPS = 1;

export function throughputCheck(session: Session, minTps = DEFAULT_MIN_TPS): QaCheck {
  const r = greedy(session, 'def fibonacci(n):', 32);
  const tps = r.tps;
  const line = `${tps.toFixed(1)} tok/s decode (${r.tokens} tokens, ${session.model.backend})`;
  return tps >= minTps ? check('throughput', 'PASS', `${line} ≥ ${minTps} tok/s floor`) : check('throughput', 'FAIL', `${line} < ${minTps} tok/s floor`);
}

/**
 * Relative perplexity regression that fails: 1 %. The same weights under the same code reproduce the
 * perplexity to ~1e-6; a change of CPU kernels (8-bit activations in the quantized products) moves it by
 * ≲ 0.1 % (Q8_0 measures +0.05 % against f32 on the fixture); a real regression is larger: Q4_K_M costs
 * +1.7 %, Q4_0 +3.7 %, 50 % magnitude pruning far more.
 */
const PPL_TOLERANCE = 0.01;

const BaselineSchema = z.object({
  version: z.literal(1),
  perplexity: z.number().positive(),
  tokens: z.number().int().positive(),
  context: z.number().int().positive(),
  data: z.string(),
});
export type QaBaseline = z.infer<typeof BaselineSchema>;

/** The built-in perplexity text when no --ppl-data is given (Python, like the fixture's training data). */
const BUILTIN_TEXT = `import os
import sys


def read_lines(path):
    """Return the lines of a text file without their line endings."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\\n") for line in f]


def count_words(lines):
    counts = {}
    for line in lines:
        for word in line.split():
            counts[word] = counts.get(word, 0) + 1
    return counts


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from empty stack")
        return self.items.pop()

    def __len__(self):
        return len(self.items)


def main(argv):
    if len(argv) < 2:
        print("usage: words.py FILE", file=sys.stderr)
        return 2
    counts = count_words(read_lines(argv[1]))
    for word, n in sorted(counts.items(), key=lambda kv: -kv[1])[:10]:
        print(f"{n:6d} {word}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
`;

function readBaseline(file: string): QaBaseline {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FormatError(file, 'baseline', err instanceof Error ? err.message : String(err));
  }
  const parsed = BaselineSchema.safeParse(raw);
  if (!parsed.success) throw new FormatError(file, 'baseline', `not an apr qa baseline: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
  return parsed.data;
}

/** Perplexity of the data (windows of up to 128 tokens, at most 8) against the baseline: written when absent. */
export function perplexityCheck(session: Session, pplData: string | undefined, baselineFile: string | undefined): QaCheck {
  const name = 'perplexity regression';
  const text = pplData ? readFileSync(pplData, 'utf8') : BUILTIN_TEXT;
  const ids = session.tokenizer.encode(text, { addSpecialTokens: false });
  if (ids.length < 2) return check(name, 'SKIP', 'the perplexity data encodes to fewer than 2 tokens');
  const context = Math.min(128, ids.length);
  const r = perplexity(session.model, ids, { context, chunks: 8 });
  const data = pplData ?? 'built-in';
  const now: QaBaseline = { version: 1, perplexity: r.perplexity, tokens: r.tokens, context, data };
  if (!baselineFile) return check(name, 'SKIP', `no --baseline given (perplexity ${r.perplexity.toFixed(4)} on ${r.tokens} tokens of ${data})`);
  if (!existsSync(baselineFile)) {
    writeFileSync(baselineFile, `${JSON.stringify(now, null, 2)}\n`);
    return check(name, 'PASS', `baseline established: perplexity ${r.perplexity.toFixed(4)} on ${r.tokens} tokens of ${data}, written to ${baselineFile}`);
  }
  const base = readBaseline(baselineFile);
  if (base.data !== data || base.context !== context || base.tokens !== r.tokens) {
    return check(name, 'FAIL', `the baseline was measured on other data (${base.data}, ${base.tokens} tokens, context ${base.context}) than now (${data}, ${r.tokens} tokens, context ${context})`);
  }
  const change = r.perplexity / base.perplexity - 1;
  const line = `perplexity ${r.perplexity.toFixed(4)} vs baseline ${base.perplexity.toFixed(4)} (${change >= 0 ? '+' : ''}${(100 * change).toFixed(2)} %, tolerance +${100 * PPL_TOLERANCE} %)`;
  return check(name, change > PPL_TOLERANCE ? 'FAIL' : 'PASS', line);
}
