import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { FormatError } from '../../formats/errors.js';
import { openModel } from '../../formats/open.js';
import { readPeftAdapter } from '../../formats/peft/adapter.js';
import { mergeLora } from '../../formats/peft/merge.js';
import type { MergeInput } from './compat.js';
import { MergeConfigError, type SliceConfig } from './config.js';
import type { MergeMethod } from './method.js';
import { NON_LAYER_POSITION, type Params, layerPosition } from './settings.js';

/**
 * mergekit's planning (mergekit/plan.py): `models:` becomes one output slice spanning every model's layers
 * (the base model appended for task-vector methods when not listed); output layers are the slices' layer
 * ranges concatenated and renumbered from 0. The embeddings come from the first slice's sources and the
 * final norm and LM head from the last slice's, all at gradient position 0; layer `offset` of a slice of
 * `length` layers sits at offset/(length−1).
 */
export interface OpenedModel extends MergeInput {
  /** The model's identity (its real path): the same file named twice is one model. */
  key: string;
  /** The files it was read from (a model and its adapter for `model+lora`). */
  files: string[];
}

export function modelKey(path: string): string {
  return existsSync(path) ? realpathSync(path) : resolve(path);
}

/** Opens each distinct model once; `path+adapter` (mergekit's LoRA reference) is the model with the PEFT adapter merged. */
export class ModelSet {
  private readonly byKey = new Map<string, OpenedModel>();

  open(path: string): OpenedModel {
    const parts = path.split('+');
    const files = parts.length === 2 && !existsSync(path) && parts.every((p) => p !== '') ? parts : [path];
    const key = files.map(modelKey).join('+');
    const known = this.byKey.get(key);
    if (known) return known;
    const [model, adapter] = files;
    const bundle = model !== undefined && adapter !== undefined ? mergeLora(openModel(model), readPeftAdapter(adapter)) : openModel(path);
    const m = { path, key, files, bundle };
    this.byKey.set(key, m);
    return m;
  }

  all(): OpenedModel[] {
    return [...this.byKey.values()];
  }

  close(): void {
    for (const m of this.byKey.values()) m.bundle.tensors.close();
  }
}

export interface PlannedSource {
  model: OpenedModel;
  layerRange: readonly [number, number];
  parameters: Params;
}

export interface PlannedSlice {
  /** Where the slice is configured (for errors): `slices.N` or `models`. */
  field: string;
  sources: PlannedSource[];
  /** The base of task-vector methods: the slice's or the config's base_model, else the slice's first source. */
  base: OpenedModel;
  /** base_model as configured (mergekit's embedding fallback consults only a configured base). */
  configuredBase: OpenedModel | undefined;
  parameters: Params;
}

export interface OutputTensor {
  name: string;
  /** Gradient position. */
  t: number;
  slice: PlannedSlice;
  /** The input tensor's name in each of the slice's sources. */
  inputNames: readonly string[];
  /** Token embeddings or LM head (rows follow the vocabulary). */
  embed: boolean;
}

export interface SliceRequest {
  configPath: string;
  method: MergeMethod;
  /** `models:` (with the command line's models), or `slices:`. */
  models?: readonly { path: string; parameters: Params }[];
  slices?: readonly SliceConfig[];
  baseModel?: string;
}

const LAYER_RE = /^model\.layers\.(\d+)\.(.+)$/;

function countInputs(method: MergeMethod, count: number, configPath: string, field: string): void {
  if (count >= method.minInputs && count <= method.maxInputs) return;
  const range = method.maxInputs === Infinity ? `at least ${method.minInputs}` : method.minInputs === method.maxInputs ? `exactly ${method.minInputs}` : `${method.minInputs} to ${method.maxInputs}`;
  throw new MergeConfigError(configPath, field, `${method.name} merges ${range} model(s)${method.inputs === 'task' ? ' besides the base' : ''}, got ${count}`);
}

function modelsSlice(req: SliceRequest, models: readonly { path: string; parameters: Params }[], set: ModelSet): PlannedSlice {
  const sources = models.map((m) => {
    const model = set.open(m.path);
    return { model, layerRange: [0, model.bundle.config.num_layers] as const, parameters: m.parameters };
  });
  const configuredBase = req.baseModel !== undefined ? set.open(req.baseModel) : undefined;
  const base = configuredBase ?? (sources[0] as PlannedSource).model;
  if (req.method.inputs === 'task' && !sources.some((s) => s.model === base)) {
    sources.push({ model: base, layerRange: [0, base.bundle.config.num_layers], parameters: {} });
  }
  return { field: 'models', sources, base, configuredBase, parameters: {} };
}

function checkSlice(req: SliceRequest, s: PlannedSlice): void {
  s.sources.forEach((src, k) => {
    const layers = src.model.bundle.config.num_layers;
    if (src.layerRange[1] > layers) throw new MergeConfigError(req.configPath, `${s.field}.sources.${k}.layer_range`, `[${src.layerRange.join(', ')}] goes past the ${layers} layers of ${src.model.path}`);
  });
  const lengths = s.sources.map((src) => src.layerRange[1] - src.layerRange[0]);
  if (lengths.some((n) => n !== lengths[0])) throw new MergeConfigError(req.configPath, `${s.field}.sources`, `every source of a slice must span the same number of layers, got ${lengths.join(', ')}`);
  const task = req.method.inputs === 'task';
  if (task && !s.sources.some((src) => src.model === s.base)) throw new MergeConfigError(req.configPath, `${s.field}.sources`, `${req.method.name} needs the base model ${s.base.path} among the slice's sources`);
  countInputs(req.method, s.sources.filter((src) => !(task && src.model === s.base)).length, req.configPath, s.field === 'models' ? 'models' : `${s.field}.sources`);
}

/** Layer ranges within the models, equal slice lengths, the base among the sources, the number of inputs. */
export function checkSlices(req: SliceRequest, slices: readonly PlannedSlice[]): void {
  for (const s of slices) checkSlice(req, s);
}

/** The output slices, their models opened (checkSlices checks them). */
export function plannedSlices(req: SliceRequest, set: ModelSet): PlannedSlice[] {
  let slices: PlannedSlice[];
  if (req.slices) {
    const configBase = req.baseModel !== undefined ? set.open(req.baseModel) : undefined;
    slices = req.slices.map((s, i) => {
      const sources = s.sources.map((src) => ({ model: set.open(src.model), layerRange: src.layerRange, parameters: src.parameters }));
      const configuredBase = s.baseModel !== undefined ? set.open(s.baseModel) : configBase;
      return { field: `slices.${i}`, sources, base: configuredBase ?? (sources[0] as PlannedSource).model, configuredBase, parameters: s.parameters };
    });
  } else {
    if (!req.models || req.models.length === 0) throw new MergeConfigError(req.configPath, 'models', 'no models to merge');
    slices = [modelsSlice(req, req.models, set)];
  }
  return slices;
}

/** Suffixes of one layer's tensors (`self_attn.q_proj.weight`, ...) in a model, sorted. */
function layerSuffixes(m: OpenedModel, layer: number): string[] {
  const out: string[] = [];
  for (const n of m.bundle.tensors.names()) {
    const hit = LAYER_RE.exec(n);
    if (hit && Number(hit[1]) === layer) out.push(hit[2] as string);
  }
  return out.sort();
}

function isEmbed(name: string): boolean {
  return name === 'model.embed_tokens.weight' || name === 'lm_head.weight';
}

function nonLayerTensors(slice: PlannedSlice, pre: boolean): OutputTensor[] {
  const first = (slice.sources[0] as PlannedSource).model;
  const names = first.bundle.tensors.names().filter((n) => !LAYER_RE.test(n) && n.startsWith('model.embed_tokens') === pre);
  return names.map((name) => ({ name, t: NON_LAYER_POSITION, slice, inputNames: slice.sources.map(() => name), embed: isEmbed(name) }));
}

function layerTensors(slice: PlannedSlice, offset: number, outLayer: number): OutputTensor[] {
  const length = slice.sources.map((s) => s.layerRange[1] - s.layerRange[0])[0] ?? 0;
  const inLayers = slice.sources.map((s) => s.layerRange[0] + offset);
  const suffixes = layerSuffixes((slice.sources[0] as PlannedSource).model, inLayers[0] as number);
  slice.sources.forEach((s, k) => {
    const own = layerSuffixes(s.model, inLayers[k] as number);
    const extra = own.find((x) => !suffixes.includes(x));
    if (extra !== undefined) throw new FormatError(s.model.path, `model.layers.${inLayers[k]}.${extra}`, `extra tensor: not in layer ${inLayers[0]} of ${slice.sources[0]?.model.path}`);
  });
  const t = layerPosition(offset, length);
  return suffixes.map((suffix) => ({ name: `model.layers.${outLayer}.${suffix}`, t, slice, inputNames: inLayers.map((l) => `model.layers.${l}.${suffix}`), embed: false }));
}

/** Every output tensor in mergekit's order: embeddings, the slices' layers renumbered, final norm and LM head. */
export function outputTensors(slices: readonly PlannedSlice[]): { tensors: OutputTensor[]; layers: number } {
  const first = slices[0];
  const last = slices[slices.length - 1];
  if (!first || !last) return { tensors: [], layers: 0 };
  const tensors = nonLayerTensors(first, true);
  let layers = 0;
  for (const slice of slices) {
    const length = (slice.sources[0] as PlannedSource).layerRange[1] - (slice.sources[0] as PlannedSource).layerRange[0];
    for (let offset = 0; offset < length; offset++) tensors.push(...layerTensors(slice, offset, layers++));
  }
  tensors.push(...nonLayerTensors(last, false));
  return { tensors, layers };
}
