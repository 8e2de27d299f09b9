/** Reading a recipe: YAML with line positions, validated against the schema; stage order and ordering warnings. */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isNode, isSeq, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { type Recipe, STAGE_ORDER, type StageName, recipeSchema } from './schema.js';

/** A recipe that cannot be used: the message names the file and, where known, the line. */
export class RecipeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecipeError';
  }
}

export interface LoadedRecipe {
  file: string;
  recipe: Recipe;
  stages: StageName[];
  warnings: string[];
}

type IssuePath = readonly PropertyKey[];

/** The node at `path`, or the deepest existing parent (an unknown key's parent is the map holding it). */
function nodeAt(doc: Document, path: IssuePath): unknown {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n).map((p) => (typeof p === 'symbol' ? String(p) : p)), true);
    if (isNode(node)) return node;
  }
  return doc.contents;
}

/** The line of an issue: for an unknown key, the key itself; else the value at the path. */
function issueLine(doc: Document, lc: LineCounter, path: IssuePath, unknownKey?: string): number {
  const node = nodeAt(doc, path);
  if (unknownKey !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isNode(p.key) && String((p.key as { value?: unknown }).value) === unknownKey);
    const range = isNode(pair?.key) ? pair.key.range : undefined;
    if (range) return lc.linePos(range[0]).line;
  }
  const range = isNode(node) || isMap(node) || isSeq(node) ? node.range : undefined;
  return range ? lc.linePos(range[0]).line : 1;
}

function describeIssue(doc: Document, lc: LineCounter, file: string, issue: z.core.$ZodIssue): string {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const where = [...path, key].join('.');
    return `${file}:${issueLine(doc, lc, path, key)}: unknown key '${where}'`;
  }
  const where = path.length > 0 ? path.join('.') : '(recipe)';
  return `${file}:${issueLine(doc, lc, path)}: ${where}: ${issue.message}`;
}

/** Stages in the recipe's order: `stages` if given, else import plus the sections present, in canonical order. */
function stageList(recipe: Recipe): StageName[] {
  if (recipe.stages) return recipe.stages;
  return STAGE_ORDER.filter((s) => s === 'import' || recipe[s] !== undefined);
}

/** Upstream's golden-ordering rules, as warnings. */
export function orderingWarnings(stages: readonly StageName[]): string[] {
  const at = (s: StageName): number => stages.indexOf(s);
  const has = (s: StageName): boolean => at(s) >= 0;
  const out: string[] = [];
  if (has('merge') && !has('finetune')) out.push('Merge without finetune.');
  if (has('finetune') && has('prune') && at('finetune') > at('prune')) out.push('Finetune after prune.');
  if (has('distill') && has('finetune') && at('distill') > at('finetune')) out.push('Distill after finetune.');
  if (has('prune') && has('quantize') && at('prune') > at('quantize')) out.push('Prune after quantize violates golden ordering (§10).');
  return out;
}

function checkSections(file: string, recipe: Recipe, stages: readonly StageName[]): void {
  for (const s of stages) {
    if (s !== 'import' && recipe[s] === undefined) throw new RecipeError(`${file}: stage '${s}' is listed in stages but the recipe has no '${s}' section`);
  }
  if (new Set(stages).size !== stages.length) throw new RecipeError(`${file}: a stage is listed twice in stages`);
}

/** Parses and validates a recipe's text (`file` names it in messages). */
export function parseRecipe(text: string, file: string): LoadedRecipe {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError) throw new RecipeError(`${file}:${lc.linePos(yamlError.pos[0]).line}: ${yamlError.message.split('\n')[0] ?? 'bad YAML'}`);
  const parsed = recipeSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new RecipeError(first ? describeIssue(doc, lc, file, first) : `${file}: invalid recipe`);
  }
  const recipe = parsed.data;
  const stages = stageList(recipe);
  checkSections(file, recipe, stages);
  return { file, recipe, stages, warnings: orderingWarnings(stages) };
}

export function loadRecipe(file: string): LoadedRecipe {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new RecipeError(`${file}: cannot read the recipe`);
  }
  return parseRecipe(text, file);
}
