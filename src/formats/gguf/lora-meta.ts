/**
 * The `general.*` keys llama.cpp's convert_lora_to_gguf.py writes for an adapter, derived as gguf-py's
 * `Metadata.load` derives them: first from the adapter folder's README.md model card (YAML front matter),
 * then from the folder name (`get_model_id_components`, `id_to_title`). And the reverse: a model card
 * whose front matter gives the same keys back, so GGUF → PEFT → GGUF keeps them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { GgufValue } from './types.js';

type Part = 'basename' | 'size_label' | 'finetune' | 'version' | 'type';

/** The components gguf-py reads from a model id such as `org/Name-7B-Instruct-v0.2`. */
export interface ModelIdComponents {
  name: string;
  org?: string;
  basename?: string;
  finetune?: string;
  version?: string;
  sizeLabel?: string;
}

/** gguf-py `Metadata.id_to_title`: lower-case words title-cased, unless a version or a number. */
function idToTitle(s: string): string {
  return s.trim().replace(/-/g, ' ').split(/\s+/).filter(Boolean)
    .map((w) => (w === w.toLowerCase() && w !== w.toUpperCase() && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w) ? pyTitle(w) : w))
    .join(' ');
}

/** Python's str.title(): a letter after a non-letter is upper-cased, other letters lower-cased. */
function pyTitle(w: string): string {
  let out = '';
  let prevLetter = false;
  for (const ch of w) {
    const letter = ch.toLowerCase() !== ch.toUpperCase();
    out += letter ? (prevLetter ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    prevLetter = letter;
  }
  return out;
}

/** A size part (`7B`, `8x7b`, `bloom-7b1`'s `7b1`) normalised, and whether it reads as a context length instead. */
function sizePart(raw: string, totalParams: number): { part: string; finetune: boolean } {
  let p = raw.replace(/_/g, '.');
  if (/\d$/.test(p)) p = `${p.slice(0, -2)}.${p.slice(-1)}${p.slice(-2, -1)}`;
  const last = p.slice(-1);
  if (p.length > 1 && /\d/.test(p.slice(-2, -1)) && 'kmbt'.includes(last)) p = p.slice(0, -1) + last.toUpperCase();
  if (totalParams === 0) return { part: p, finetune: false };
  const label = Number(p.slice(0, -1)) * 1000 ** ' KMBT'.indexOf(p.slice(-1));
  const context = (totalParams < 0 && label < Math.floor(Math.abs(totalParams) / 8)) || (totalParams > 0 && Math.abs(label - totalParams) > Math.floor((7 * totalParams) / 8));
  return context ? { part: p.slice(0, -1) + p.slice(-1).toLowerCase(), finetune: true } : { part: p, finetune: false };
}

function annotate(raw: string, i: number, totalParams: number): { part: string; kinds: Set<Part> } {
  const kinds = new Set<Part>();
  if (/^(v|iter)?\d+([.]\d+)*$/i.test(raw)) return { part: raw, kinds: new Set(['version']) };
  if (/^(i?q\d(_\w)*|b?fp?(16|32))$/i.test(raw)) return { part: raw.toUpperCase(), kinds: new Set(['type']) };
  if (i > 0 && /^(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)$/i.test(raw)) {
    const s = sizePart(raw, totalParams);
    kinds.add(s.finetune ? 'finetune' : 'size_label');
    return { part: s.part, kinds };
  }
  if (i > 0 && /^(chat|instruct|vision|lora)$/i.test(raw)) kinds.add(totalParams < 0 && raw.toLowerCase() === 'lora' ? 'type' : 'finetune');
  return { part: raw, kinds };
}

function markBasename(parts: { part: string; kinds: Set<Part> }[]): void {
  if (parts.some((p) => p.kinds.has('size_label') && /\d/.test(p.part))) {
    for (const p of parts) if (p.kinds.has('size_label') && /^[a-z]+$/i.test(p.part)) p.kinds.delete('size_label');
  }
  let atStart = true;
  for (const p of parts) {
    if (atStart && ((p.kinds.size === 0 && /^[a-z]/i.test(p.part)) || p.kinds.has('version'))) p.kinds.add('basename');
    else {
      atStart = false;
      if (p.kinds.size === 0) p.kinds.add('finetune');
    }
  }
  for (const p of [...parts].reverse()) {
    if (!(p.kinds.has('basename') && p.kinds.size > 1)) break;
    p.kinds.delete('basename');
  }
}

const joined = (parts: { part: string; kinds: Set<Part> }[], keep: (k: Set<Part>) => boolean): string | undefined => parts.filter((p) => keep(p.kinds)).map((p) => p.part).join('-') || undefined;

/** gguf-py `Metadata.get_model_id_components` (totalParams < 0 for a LoRA adapter). */
export function modelIdComponents(id: string, totalParams: number): ModelIdComponents {
  if (id.includes(' ')) return { name: id };
  const slash = id.indexOf('/');
  let org = slash < 0 ? undefined : id.slice(0, slash);
  const name = slash < 0 ? id : id.slice(slash + 1);
  if (org?.startsWith('.')) org = undefined;
  const parts = name.split('-').filter(Boolean).map((raw, i) => annotate(raw, i, totalParams));
  markBasename(parts);
  const sizeLabel = [...new Set(parts.filter((p) => p.kinds.has('size_label')).map((p) => p.part))].join('-') || undefined;
  const finetune = joined(parts, (k) => k.has('finetune'));
  const version = joined(parts, (k) => k.has('version') && !k.has('basename'));
  const basename = sizeLabel === undefined && finetune === undefined && version === undefined ? undefined : joined(parts, (k) => k.has('basename'));
  return { name, ...(org !== undefined ? { org } : {}), ...(basename ? { basename } : {}), ...(finetune ? { finetune } : {}), ...(version ? { version } : {}), ...(sizeLabel ? { sizeLabel } : {}) };
}

/** The YAML front matter of `<dir>/README.md` (the model card), or {} when there is none. */
export function readModelCard(dir: string): Record<string, unknown> {
  const path = join(dir, 'README.md');
  if (!existsSync(path)) return {};
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  if (lines[0] !== '---') return {};
  const end = lines.indexOf('---', 1);
  const yaml = `${lines.slice(1, end < 0 ? undefined : end).join('\n')}\n`.replace(/- no\n/g, '- "no"\n').replace(/\t/g, '  ');
  const data: unknown = parseYaml(yaml);
  return data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
}

const SCALAR_CARD_KEYS: readonly (readonly [string, readonly string[]])[] = [
  ['name', ['name', 'model_name']],
  ['author', ['author', 'model_author', 'model_creator']],
  ['version', ['version', 'model_version']],
  ['organization', ['organization', 'model_organization']],
  ['finetune', ['finetune', 'model_finetune']],
  ['basename', ['basename', 'model_basename', 'model_type']],
  ['description', ['description', 'model_description']],
  ['size_label', ['size_label', 'model_size_label']],
];
const BASE_MODEL_FIELDS = ['name', 'author', 'version', 'organization', 'description', 'url', 'doi', 'uuid', 'repo_url'] as const;

const str = (value: string): GgufValue => ({ type: 'string', value });

function listOf(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

/** A model-card base_model entry as gguf-py reads it: a dict as is, a Hugging Face id split into its parts. */
function baseModelEntry(v: unknown, totalParams: number): Record<string, unknown> {
  if (v !== null && typeof v === 'object') return v as Record<string, unknown>;
  const id = String(v);
  const url = /^https?:\/\/huggingface\.co\/([^/]+\/[^/]+)$/.exec(id);
  if (/^(https?|ssh):\/\//.test(id) && !url) return { repo_url: id };
  const c = modelIdComponents(url?.[1] ?? id, totalParams);
  const entry: Record<string, unknown> = { name: idToTitle(c.name) };
  if (c.org !== undefined) entry['organization'] = idToTitle(c.org);
  if (c.version !== undefined) entry['version'] = c.version;
  entry['repo_url'] = url ? id : c.org !== undefined ? `https://huggingface.co/${c.org}/${c.name}` : undefined;
  if (entry['repo_url'] === undefined) delete entry['repo_url'];
  return entry;
}

function fromCard(card: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, sources] of SCALAR_CARD_KEYS) {
    const hit = sources.find((s) => card[s] !== undefined && card[s] !== null);
    if (hit !== undefined) out.set(key, String(card[hit]));
  }
  return out;
}

function baseModelKv(kv: [string, GgufValue][], card: Record<string, unknown>, totalParams: number): void {
  const raw = card['base_model'] ?? card['base_models'] ?? card['base_model_sources'];
  if (raw === undefined) return;
  const entries = listOf(raw).map((v) => baseModelEntry(v, totalParams));
  kv.push(['general.base_model.count', { type: 'u32', value: entries.length }]);
  entries.forEach((e, i) => {
    for (const f of BASE_MODEL_FIELDS) {
      const v = e[f];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') kv.push([`general.base_model.${i}.${f}`, str(String(v))]);
    }
  });
}

function arrayKv(kv: [string, GgufValue][], key: string, values: unknown[]): void {
  if (values.length > 0) kv.push([key, { type: 'array', itemType: 'string', value: values.map(String) }]);
}

/**
 * The general.* keys after `general.architecture`/`general.type`, in gguf-py's `set_gguf_meta_model` order:
 * name, author, version, organization, finetune, basename, description, size_label, license…, base models,
 * tags, languages. `folder` is the adapter folder's name; `totalParams` is negative for an adapter.
 */
export function adapterGeneralKv(folder: string, card: Record<string, unknown>, totalParams: number): [string, GgufValue][] {
  const fields = fromCard(card);
  const c = modelIdComponents(folder, totalParams);
  const fallback: Record<string, string | undefined> = { name: idToTitle(c.name), organization: c.org && idToTitle(c.org), basename: c.basename, finetune: c.finetune, version: c.version, size_label: c.sizeLabel };
  for (const [k, v] of Object.entries(fallback)) if (!fields.has(k) && v !== undefined) fields.set(k, v);
  const kv: [string, GgufValue][] = [];
  for (const k of ['name', 'author', 'version', 'organization', 'finetune', 'basename', 'description', 'size_label']) {
    const v = fields.get(k);
    if (v !== undefined) kv.push([`general.${k}`, str(v)]);
  }
  const license = listOf(card['license']);
  if (license.length > 0) kv.push(['general.license', str(license.map(String).join(','))]);
  for (const k of ['license_name', 'license_link']) {
    const v = card[k];
    if (typeof v === 'string') kv.push([`general.${k}`, str(v)]);
  }
  baseModelKv(kv, card, totalParams);
  arrayKv(kv, 'general.tags', [...listOf(card['tags']), ...listOf(card['pipeline_tag'])]);
  arrayKv(kv, 'general.languages', [...listOf(card['languages']), ...listOf(card['language'])]);
  return kv;
}

function scalar(kv: ReadonlyMap<string, GgufValue>, key: string): string | undefined {
  const v = kv.get(key);
  return v?.type === 'string' ? v.value : undefined;
}

function stringArray(kv: ReadonlyMap<string, GgufValue>, key: string): string[] | undefined {
  const v = kv.get(key);
  return v?.type === 'array' && v.itemType === 'string' ? v.value : undefined;
}

function baseModels(kv: ReadonlyMap<string, GgufValue>): Record<string, string>[] | undefined {
  const count = kv.get('general.base_model.count');
  if (count?.type !== 'u32') return undefined;
  return Array.from({ length: count.value }, (_v, i) => {
    const e: Record<string, string> = {};
    for (const f of BASE_MODEL_FIELDS) {
      const s = scalar(kv, `general.base_model.${i}.${f}`);
      if (s !== undefined) e[f] = s;
    }
    return e;
  });
}

/**
 * A README.md model card whose front matter gives `kv`'s general.* keys back when read by `adapterGeneralKv`
 * (or by gguf-py), plus PEFT's `library_name: peft`.
 */
export function modelCardFromKv(kv: ReadonlyMap<string, GgufValue>): string {
  const card: Record<string, unknown> = {};
  for (const k of ['name', 'author', 'version', 'organization', 'finetune', 'basename', 'description', 'size_label', 'license', 'license_name', 'license_link']) {
    const v = scalar(kv, `general.${k}`);
    if (v !== undefined) card[k] = v;
  }
  const bases = baseModels(kv);
  if (bases) card['base_model'] = bases;
  const tags = stringArray(kv, 'general.tags');
  if (tags) card['tags'] = tags;
  const languages = stringArray(kv, 'general.languages');
  if (languages) card['language'] = languages;
  card['library_name'] = 'peft';
  return `---\n${stringifyYaml(card)}---\n\nA LoRA adapter converted from a llama.cpp GGUF adapter by apr.\n`;
}
