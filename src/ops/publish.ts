/**
 * `apr publish`: a Hugging Face Hub repository folder, built locally — the model exported in the Hub layout
 * (SafeTensors + config.json + tokenizer files, or one GGUF file), a model card (README.md with YAML front
 * matter), the results JSON files and the pipeline lock. Nothing is uploaded (no network here); the folder
 * is written atomically and holds no time, so the same inputs give the same bytes.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { writeDirAtomically } from '../formats/hf-dir/atomic-dir.js';
import { type CardFile, type CardResult, type CardSize, type CardStage, renderModelCard } from '../formats/hf-dir/model-card.js';
import { repoIdProblem } from '../formats/hf-dir/repo-id.js';
import { openModel } from '../formats/open.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ProvenanceEntry } from '../tensor/bundle.js';
import { elementCount, isQuantized } from '../tensor/dtype.js';
import { exportModel } from './model-io.js';
import { TOOL_VERSION } from './version.js';

export type PublishFormat = 'safetensors' | 'gguf';

export interface PublishOptions {
  /** The model (any format openModel reads, e.g. an exported HF folder). */
  model: string;
  /** `org/name` on the Hub. */
  repoId: string;
  /** The repository folder to write (must not exist, or be empty, unless overwrite). */
  output: string;
  modelName?: string;
  pipelineTag?: string;
  libraryName?: string;
  tags?: string[];
  license?: string;
  baseModel?: string;
  format?: PublishFormat;
  /** Results JSON files (upstream's eval-pass-at-k shape), copied into results/. */
  results?: string[];
  /** A pipeline lock (`apr pipeline`); default `pipeline.lock.json` next to the model, when there is one. */
  lock?: string;
  /** A Markdown file summarising the training data and its decontamination. */
  dataSummary?: string;
  overwrite?: boolean;
}

export interface PublishResult {
  repoId: string;
  output: string;
  format: PublishFormat;
  card: string;
  lock: string | null;
  stages: number;
  results: CardResult[];
  files: CardFile[];
  parameters: number;
  uploaded: false;
}

const RESULTS_SCHEMA = z.object({
  benchmark: z.string(),
  results: z.object({ total: z.number(), passed: z.number(), pass_at_1: z.number(), pass_at_10: z.number().nullable().optional() }),
});

const LOCK_SCHEMA = z.object({
  stages: z.array(z.object({
    name: z.string(),
    command: z.union([z.string(), z.array(z.string())]),
    outputs: z.record(z.string(), z.string()).optional(),
  })),
});

export const publishContract = defineContract<PublishOptions, PublishResult>({
  id: 'op-publish-v1',
  equation: 'publish',
  spec: 'publish(m, repo) = folder{export_hf(m), README.md = front matter ⊕ card sections, results/*, pipeline.lock.json}; no upload, no time recorded',
  pre: [
    ['model exists', (o) => existsSync(o.model)],
    ['repo id is a valid Hub id', (o) => repoIdProblem(o.repoId) === undefined],
    ['given inputs exist', (o) => [...(o.results ?? []), ...(o.lock ? [o.lock] : []), ...(o.dataSummary ? [o.dataSummary] : [])].every((p) => existsSync(p))],
  ],
  post: [
    ['card starts with YAML front matter', (o) => readFileSync(join(o.output, 'README.md'), 'utf8').startsWith('---\n')],
    ['every listed file is there with its size', (o, r) => r.files.every((f) => existsSync(join(o.output, f.name)) && statSync(join(o.output, f.name)).size === f.bytes)],
    ['nothing uploaded', (_o, r) => !r.uploaded],
  ],
});

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FormatError(path, 'json', err instanceof Error ? err.message : String(err));
  }
}

function parseWith<T>(path: string, schema: z.ZodType<T>, what: string): T {
  const r = schema.safeParse(readJson(path));
  if (!r.success) throw new FormatError(path, what, r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  return r.data;
}

function readResults(paths: readonly string[]): CardResult[] {
  return paths.map((p) => {
    const r = parseWith(p, RESULTS_SCHEMA, 'results');
    return { file: `results/${basename(p)}`, benchmark: r.benchmark, total: r.results.total, passed: r.results.passed, passAt1: r.results.pass_at_1, passAt10: r.results.pass_at_10 ?? null };
  });
}

function readLock(path: string | undefined): CardStage[] {
  if (path === undefined) return [];
  return parseWith(path, LOCK_SCHEMA, 'pipeline lock').stages.map((s) => ({
    name: s.name,
    command: Array.isArray(s.command) ? s.command.join(' ') : s.command,
    outputs: s.outputs ?? {},
  }));
}

/** The lock to use: the one given, else `pipeline.lock.json` inside a model folder or beside the model. */
function findLock(o: PublishOptions): string | undefined {
  if (o.lock !== undefined) return o.lock;
  const dirs = statSync(o.model).isDirectory() ? [o.model, dirname(o.model)] : [dirname(o.model)];
  return dirs.map((d) => join(d, 'pipeline.lock.json')).find((p) => existsSync(p));
}

function treeBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, f) => n + treeBytes(join(path, f)), 0);
}

interface ModelFacts {
  readonly architecture: string;
  readonly provenance: ProvenanceEntry[];
  readonly dtypes: Record<string, number>;
  readonly parameters: number;
  readonly quantized: string[];
}

function modelFacts(path: string): ModelFacts {
  const m = openModel(path);
  try {
    const dtypes: Record<string, number> = {};
    const quantized = new Set<string>();
    let parameters = 0;
    for (const name of m.tensors.names()) {
      const t = m.tensors.get(name);
      if (t === undefined) continue;
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
      parameters += elementCount(t.shape);
      if (isQuantized(t.dtype)) quantized.add(t.dtype);
    }
    return { architecture: m.config.architecture, provenance: m.provenance, dtypes, parameters, quantized: [...quantized].sort() };
  } finally {
    m.tensors.close();
  }
}

/** Writes the model into `dir` in the Hub layout: the HF folder's files at the top, or one `<name>.gguf`. */
function exportInto(o: PublishOptions, format: PublishFormat, dir: string): void {
  const name = o.repoId.split('/')[1] ?? 'model';
  if (format === 'gguf') {
    exportModel({ input: o.model, output: join(dir, `${name}.gguf`), format: 'gguf' });
    return;
  }
  const staging = join(dir, '.export');
  exportModel({ input: o.model, output: staging, format: 'safetensors' });
  for (const f of readdirSync(staging)) renameSync(join(staging, f), join(dir, f));
  rmdirSync(staging);
}

function listFiles(root: string, dir = root): CardFile[] {
  const out: CardFile[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...listFiles(root, p));
    else out.push({ name: relative(root, p).split('\\').join('/'), bytes: statSync(p).size, digest: sourceDigest(p) });
  }
  return out;
}

function copyInputs(o: PublishOptions, lock: string | undefined, dir: string): void {
  if (lock !== undefined) copyFileSync(lock, join(dir, 'pipeline.lock.json'));
  if ((o.results ?? []).length > 0) mkdirSync(join(dir, 'results'));
  for (const r of o.results ?? []) copyFileSync(r, join(dir, 'results', basename(r)));
}

function publishFolder(o: PublishOptions): PublishResult {
  const facts = modelFacts(o.model);
  const format = o.format ?? 'safetensors';
  if (format === 'safetensors' && facts.quantized.length > 0) {
    throw new FormatError(o.model, 'dtype', `the model is quantized (${facts.quantized.join(', ')}), which SafeTensors cannot hold: publish it with --format gguf`);
  }
  const lock = findLock(o);
  const stages = readLock(lock);
  const results = readResults(o.results ?? []);
  const dataSummary = o.dataSummary === undefined ? undefined : readFileSync(o.dataSummary, 'utf8');
  const files = writeDirAtomically(o.output, (dir) => {
    exportInto(o, format, dir);
    copyInputs(o, lock, dir);
    const files = listFiles(dir);
    const size: CardSize = { parameters: facts.parameters, dtypes: facts.dtypes, sourceBytes: treeBytes(o.model), publishedBytes: files.filter((f) => /\.(safetensors|gguf)$/.test(f.name)).reduce((n, f) => n + f.bytes, 0) };
    const card = renderModelCard({
      repoId: o.repoId, modelName: o.modelName ?? o.repoId.split('/')[1] ?? o.repoId, license: o.license ?? 'mit', pipelineTag: o.pipelineTag ?? 'text-generation',
      libraryName: o.libraryName ?? 'apr', tags: o.tags ?? ['apr'], ...(o.baseModel !== undefined ? { baseModel: o.baseModel } : {}), toolVersion: TOOL_VERSION,
      architecture: facts.architecture, stages, ...(lock !== undefined ? { lockFile: 'pipeline.lock.json' } : {}), provenance: facts.provenance,
      ...(dataSummary !== undefined ? { dataSummary } : {}), results, size, files,
    });
    writeFileSync(join(dir, 'README.md'), card);
    return files;
  }, { overwrite: o.overwrite ?? false });
  return { repoId: o.repoId, output: o.output, format, card: join(o.output, 'README.md'), lock: lock ?? null, stages: stages.length, results, files, parameters: facts.parameters, uploaded: false };
}

/** Builds the Hub repository folder for `o.model` (a dry run: nothing leaves the machine). */
export function publish(o: PublishOptions): PublishResult {
  return publishContract.run(o, () => publishFolder(o));
}
