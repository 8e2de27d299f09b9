import type { ModelBundle } from '../../tensor/bundle.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { tokenContent } from '../../tokenizer/tokenizer-json.js';
import type { CheckContext } from './context.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

/** Code, indentation, unicode and an emoji: what a code model's tokenizer must carry through unchanged. */
export const PROBE_TEXT = 'def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)  # héllo, 世界 ✓ 🚀\n';

const MISSING_WHERE: Record<string, string> = {
  apr: "metadata['tokenizer.json'] is absent",
  gguf: 'no tokenizer.ggml.* keys',
  'hf-dir': 'no tokenizer.json in the folder',
  safetensors: 'no tokenizer.json beside the file',
};

function vocabAgainstEmbedding(bundle: ModelBundle, tok: Tokenizer, f: Findings): number | undefined {
  const rows = bundle.tensors.get('model.embed_tokens.weight')?.shape[0];
  if (rows === undefined) return undefined;
  const V = bundle.config.vocab_size;
  if (V !== rows) f.fail(`vocab_size: the config says ${V}, model.embed_tokens.weight has ${rows} rows`);
  if (tok.vocabSize > rows) f.fail(`tokenizer: ${tok.vocabSize} tokens, but model.embed_tokens.weight has ${rows} rows (ids ≥ ${rows} index past it)`);
  else if (tok.vocabSize < rows) f.note(`${rows - tok.vocabSize} embedding rows beyond the tokenizer (padding)`);
  return rows;
}

const idList = (v: unknown): number[] => (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number');

function specialTokens(bundle: ModelBundle, tok: Tokenizer, f: Findings): void {
  const spec = bundle.tokenizer;
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
    const content = tokenContent(spec?.config?.[key]);
    if (content !== undefined && tok.tokenToId(content) === undefined) f.fail(`tokenizer_config.${key}: '${content}' is not in the vocabulary`);
  }
  const sources: [string, unknown][] = [
    ['config.bos_token_id', bundle.config.bos_token_id],
    ['config.eos_token_id', bundle.config.eos_token_id],
    ['generation_config.eos_token_id', spec?.generationConfig?.['eos_token_id']],
    ['generation_config.bos_token_id', spec?.generationConfig?.['bos_token_id']],
  ];
  for (const [field, v] of sources) for (const id of idList(v)) if (tok.idToToken(id) === undefined) f.fail(`${field}: ${id} is not a token id`);
  for (const [content, id] of tok.specialTokens) {
    const enc = tok.encode(content, { addSpecialTokens: false });
    if (enc.length !== 1 || enc[0] !== id) f.fail(`special token '${content}' (id ${id}) encodes to [${enc.join(', ')}]`);
  }
  if (tok.eosTokenId === undefined && tok.stopTokenIds.length === 0) f.warn('no end-of-sequence token: generation cannot stop on its own');
  f.note(`${tok.specialTokens.size} special tokens resolve${tok.eosTokenId !== undefined ? `, eos ${tok.eosTokenId}` : ''}`);
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

function roundTrip(tok: Tokenizer, rows: number | undefined, f: Findings): void {
  const ids = tok.encode(PROBE_TEXT, { addSpecialTokens: false });
  const outside = ids.filter((id) => rows !== undefined && id >= rows);
  if (outside.length > 0) f.fail(`encode: ids ${outside.slice(0, 4).join(', ')} are past the embedding's ${rows} rows`);
  const back = tok.decode(ids);
  if (back === PROBE_TEXT) f.note(`round trip exact (${ids.length} tokens)`);
  else if (back.trim() === PROBE_TEXT.trim()) f.note(`round trip equal up to outer whitespace (${ids.length} tokens)`);
  else {
    const at = firstDifference(back, PROBE_TEXT);
    f.fail(`round trip: decode(encode(probe)) differs at character ${at}: ${JSON.stringify(back.slice(at, at + 12))} vs ${JSON.stringify(PROBE_TEXT.slice(at, at + 12))}`);
  }
}

function chatTemplate(tok: Tokenizer, rows: number | undefined, f: Findings): void {
  if (tok.chatTemplate === undefined) {
    f.warn('chat_template: none (chat needs an explicit template)');
    return;
  }
  const user = 'Write a function that reverses a string.';
  try {
    const text = tok.applyChatTemplate([{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: user }]);
    if (!text.includes(user)) f.fail('chat_template: the rendered prompt does not contain the user message');
    const ids = tok.encode(text, { addSpecialTokens: false });
    if (rows !== undefined && ids.some((id) => id >= rows)) f.fail('chat_template: the rendered prompt encodes to ids past the embedding');
    f.note(`chat template renders (${ids.length} tokens)`);
  } catch (err) {
    f.fail(`chat_template: does not render (${errorMessage(err)})`);
  }
}

export const tokenizerStage: Stage = {
  id: 4,
  name: 'tokenizer',
  run(ctx: CheckContext): StageOutcome {
    const f = new Findings();
    const bundle = ctx.bundle();
    if (!bundle.tokenizer) {
      f.fail(`tokenizer: missing (${MISSING_WHERE[ctx.format ?? ''] ?? 'none found'})`);
      return f.outcome();
    }
    let tok: Tokenizer;
    try {
      tok = ctx.tokenizer();
    } catch (err) {
      f.fail(`tokenizer: does not load (${errorMessage(err)})`);
      return f.outcome();
    }
    f.note(`${tok.vocabSize} tokens`);
    const rows = vocabAgainstEmbedding(bundle, tok, f);
    specialTokens(bundle, tok, f);
    roundTrip(tok, rows, f);
    chatTemplate(tok, rows, f);
    return f.outcome();
  },
};
