import type { TokenizerSpec } from '../tensor/bundle.js';
import { tokenContent } from './tokenizer-json.js';

/** End-of-turn markers of common chat templates; stop tokens when the vocabulary has them as special tokens. */
export const TEMPLATE_END_MARKERS = ['<|im_end|>', '<|eot_id|>', '<|eom_id|>', '<|end|>', '<end_of_turn>', '<|endoftext|>'] as const;

/** Special ids from the model's config.json (ArchConfig carries the same two fields). */
export interface ModelSpecialIds {
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
}

export interface SpecialIds {
  bos?: number;
  eos?: number;
  pad?: number;
  unk?: number;
  stop: number[];
}

const ids = (v: unknown): number[] => {
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  return list.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
};

/**
 * bos/eos/pad/unk as transformers resolves them (tokenizer_config.json names first, then generation_config
 * and config.json ids), and the stop set: config.json eos ∪ generation_config eos ∪ tokenizer_config eos ∪
 * the template end markers that are special tokens.
 */
export function resolveSpecialIds(
  spec: TokenizerSpec,
  model: ModelSpecialIds,
  lookup: (token: string) => number | undefined,
  specials: ReadonlyMap<string, number>,
): SpecialIds {
  const config = spec.config ?? {};
  const gen = spec.generationConfig ?? {};
  const named = (key: string): number | undefined => {
    const content = tokenContent(config[key]);
    return content === undefined ? undefined : lookup(content);
  };
  const out: SpecialIds = { stop: [] };
  const bos = named('bos_token') ?? ids(gen['bos_token_id'])[0] ?? ids(model.bos_token_id)[0];
  const eos = named('eos_token') ?? ids(gen['eos_token_id'])[0] ?? ids(model.eos_token_id)[0];
  const pad = named('pad_token') ?? ids(gen['pad_token_id'])[0];
  const unk = named('unk_token');
  if (bos !== undefined) out.bos = bos;
  if (eos !== undefined) out.eos = eos;
  if (pad !== undefined) out.pad = pad;
  if (unk !== undefined) out.unk = unk;
  const stop = new Set<number>([...ids(model.eos_token_id), ...ids(gen['eos_token_id'])]);
  const configEos = named('eos_token');
  if (configEos !== undefined) stop.add(configEos);
  for (const marker of TEMPLATE_END_MARKERS) {
    const id = specials.get(marker);
    if (id !== undefined) stop.add(id);
  }
  out.stop = [...stop].sort((a, b) => a - b);
  return out;
}

/** The template variables transformers passes from its special_tokens_map (bos_token, eos_token, ...). */
export function specialTokenVariables(spec: TokenizerSpec): Record<string, string> {
  const config = spec.config ?? {};
  const vars: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
    const content = tokenContent(config[key]);
    if (content !== undefined) vars[key] = content;
  }
  return vars;
}
