import { openModel } from '../../formats/open.js';
import type { ModelBundle, TokenizerSpec } from '../../tensor/bundle.js';
import { selectChatTemplate, withChatTemplate } from './chat-templates.js';
import { checkMergeable, checkTensorInputs, checkVocabulary } from './compat.js';
import type { SliceConfig, TokenEmbedding, TokenizerConfig } from './config.js';
import type { FloatDType } from './floats.js';
import type { MergeMethod } from './method.js';
import { mergedStore } from './plan.js';
import type { Params } from './settings.js';
import { ModelSet, type OpenedModel, type PlannedSlice, type SliceRequest, checkSlices, modelKey, outputTensors, plannedSlices } from './slices.js';
import { type VocabPlan, planVocabulary } from './vocab.js';

/** Everything a merge needs, from a mergekit config and/or the command line. */
export interface AssembleRequest {
  /** The config file, or 'apr merge' (for errors). */
  configPath: string;
  method: MergeMethod;
  models?: readonly { path: string; parameters: Params }[];
  slices?: readonly SliceConfig[];
  baseModel?: string;
  parameters: Params;
  tokenizer?: TokenizerConfig;
  chatTemplate?: string;
  dtype?: FloatDType;
  seed: number;
  onTensor?: (name: string) => void;
}

export interface AssembledMerge {
  method: MergeMethod;
  /** The output model: the donor's config, metadata and tokenizer (merged or replaced as configured), lazy merged tensors. */
  bundle: ModelBundle;
  /** The base model, else the first model: config, tokenizer and metadata come from it. */
  donor: OpenedModel;
  /** Every model opened. */
  models: OpenedModel[];
  /** The models merged (every source but the base, for task-vector methods). */
  inputs: OpenedModel[];
  slices: readonly PlannedSlice[];
  layers: number;
  close(): void;
}

function sliceRequest(req: AssembleRequest): SliceRequest {
  return { configPath: req.configPath, method: req.method, ...(req.models ? { models: req.models } : {}), ...(req.slices ? { slices: req.slices } : {}), ...(req.baseModel !== undefined ? { baseModel: req.baseModel } : {}) };
}

function mergedInputs(method: MergeMethod, slices: readonly PlannedSlice[]): OpenedModel[] {
  const out = new Set<OpenedModel>();
  for (const s of slices) for (const src of s.sources) if (!(method.inputs === 'task' && src.model === s.base)) out.add(src.model);
  return [...out];
}

/** A model's tokenizer (the model is opened for it and closed again). */
function tokenizerOf(path: string): TokenizerSpec | undefined {
  const m = openModel(path);
  m.tensors.close();
  return m.tokenizer;
}

function vocabulary(req: AssembleRequest, t: TokenizerConfig, set: ModelSet, donor: OpenedModel): VocabPlan {
  const ordered = [donor, ...set.all().filter((m) => m !== donor)];
  const ref = (m: OpenedModel): { key: string; label: string; spec: TokenizerSpec | undefined; size: number } => ({ key: m.key, label: m.path, spec: m.bundle.tokenizer, size: m.bundle.config.vocab_size });
  const sourceSpec = typeof t.source === 'object' ? tokenizerOf(t.source.model) : undefined;
  return planVocabulary({
    configPath: req.configPath,
    base: ref(donor),
    models: ordered.map(ref),
    source: t.source,
    ...(sourceSpec ? { sourceSpec } : {}),
    addTokens: [...t.tokens.keys()],
    ...(t.padToMultipleOf !== undefined ? { padToMultipleOf: t.padToMultipleOf } : {}),
  });
}

/** `tokenizer.tokens` with model references turned into model keys. */
function tokenSources(t: TokenizerConfig | undefined): Map<string, TokenEmbedding> {
  const out = new Map<string, TokenEmbedding>();
  for (const [tok, cfg] of t?.tokens ?? []) out.set(tok, { ...cfg, source: cfg.source.kind === 'zero' ? cfg.source : { ...cfg.source, model: modelKey(cfg.source.model) } });
  return out;
}

/** Refuses inputs that cannot be merged, before anything is written: names, shapes, dtypes, vocabularies. */
function checkInputs(req: AssembleRequest, slices: readonly PlannedSlice[], donor: OpenedModel, set: ModelSet): void {
  const vocabMerged = req.tokenizer !== undefined;
  // whole models: names, shapes and vocabularies first (the clearest message for two different models)
  if (!req.slices) checkMergeable(donor, set.all().filter((m) => m !== donor), { vocabMerged });
  checkSlices(sliceRequest(req), slices);
  if (req.slices && !vocabMerged) for (const m of set.all()) if (m !== donor) checkVocabulary(donor, m);
  for (const out of outputTensors(slices).tensors) checkTensorInputs(out.slice.sources.map((s, k) => ({ model: s.model, name: out.inputNames[k] as string })), { vocabMerged });
}

function outputTokenizer(req: AssembleRequest, donor: OpenedModel, set: ModelSet, vocab: VocabPlan | undefined): TokenizerSpec | undefined {
  const spec = vocab?.tokenizer ?? donor.bundle.tokenizer;
  if (req.chatTemplate === undefined || !spec) return spec;
  const ordered = [donor, ...set.all().filter((m) => m !== donor)];
  return withChatTemplate(spec, selectChatTemplate(req.chatTemplate, ordered.map((m) => m.bundle.tokenizer), req.configPath));
}

function build(req: AssembleRequest, set: ModelSet): AssembledMerge {
  const slices = plannedSlices(sliceRequest(req), set);
  const donor = req.baseModel !== undefined ? set.open(req.baseModel) : (slices[0]?.sources[0]?.model as OpenedModel);
  checkInputs(req, slices, donor, set);
  const vocab = req.tokenizer ? vocabulary(req, req.tokenizer, set, donor) : undefined;
  const tokenizer = outputTokenizer(req, donor, set, vocab);
  const { tensors, layers } = outputTensors(slices);
  const store = mergedStore({
    method: req.method, tensors, parameters: req.parameters, configPath: req.configPath, seed: req.seed,
    ...(req.dtype ? { dtype: req.dtype } : {}),
    ...(vocab ? { vocab: { plan: vocab, tokens: tokenSources(req.tokenizer) } } : {}),
    ...(req.onTensor ? { onTensor: req.onTensor } : {}),
    close: () => set.close(),
  });
  // The donor's logits fingerprint describes other weights; `apr import` records one for the new model.
  const { golden: _stale, ...metadata } = donor.bundle.metadata;
  const config = { ...donor.bundle.config, num_layers: layers, ...(vocab ? { vocab_size: vocab.rows } : {}) };
  const { tokenizer: _old, ...rest } = donor.bundle;
  const bundle: ModelBundle = { ...rest, config, metadata, tensors: store, ...(tokenizer ? { tokenizer } : {}), source: { path: donor.path, format: 'memory' } };
  return { method: req.method, bundle, donor, models: set.all(), inputs: mergedInputs(req.method, slices), slices, layers, close: () => set.close() };
}

/**
 * Opens the models, plans the output slices and tensors, the vocabulary and the chat template, and checks
 * everything that can be checked before a byte is written. The caller writes `bundle` and calls `close`.
 */
export function assembleMerge(req: AssembleRequest): AssembledMerge {
  const set = new ModelSet();
  try {
    return build(req, set);
  } catch (err) {
    set.close();
    throw err;
  }
}
