/**
 * The model card (README.md) of a Hugging Face Hub repository as `apr publish` writes it: YAML front matter
 * (license, pipeline_tag, library_name, tags, base_model) and the sections upstream's submit flow asks for:
 * base model, pipeline stages in order, training data, pass@k, quantization and size, files. Pure text from
 * its input, so the same input gives the same bytes.
 */
import { stringify } from 'yaml';
import type { ProvenanceEntry } from '../../tensor/bundle.js';

export interface CardStage {
  readonly name: string;
  readonly command: string;
  /** Output path → digest, as the pipeline lock records them. */
  readonly outputs: Readonly<Record<string, string>>;
}

export interface CardResult {
  /** The results file's name as copied into the repository (results/…). */
  readonly file: string;
  readonly benchmark: string;
  readonly total: number;
  readonly passed: number;
  readonly passAt1: number;
  readonly passAt10: number | null;
}

export interface CardSize {
  readonly parameters: number;
  /** dtype → number of tensors. */
  readonly dtypes: Readonly<Record<string, number>>;
  readonly sourceBytes: number;
  readonly publishedBytes: number;
}

export interface CardFile {
  readonly name: string;
  readonly bytes: number;
  readonly digest: string;
}

export interface ModelCardInput {
  readonly repoId: string;
  readonly modelName: string;
  readonly license: string;
  readonly pipelineTag: string;
  readonly libraryName: string;
  readonly tags: readonly string[];
  readonly baseModel?: string;
  readonly toolVersion: string;
  readonly architecture: string;
  readonly stages: readonly CardStage[];
  /** The lock's name in the repository, when one was given. */
  readonly lockFile?: string;
  readonly provenance: readonly ProvenanceEntry[];
  readonly dataSummary?: string;
  readonly results: readonly CardResult[];
  readonly size: CardSize;
  readonly files: readonly CardFile[];
}

function frontMatter(c: ModelCardInput): string {
  const doc: Record<string, unknown> = { license: c.license, pipeline_tag: c.pipelineTag, library_name: c.libraryName, tags: [...c.tags] };
  if (c.baseModel !== undefined) doc['base_model'] = c.baseModel;
  return `---\n${stringify(doc)}---\n`;
}

function baseSection(c: ModelCardInput): string {
  const base = c.baseModel === undefined ? 'not recorded (pass `--base-model org/name` to name it)' : `[${c.baseModel}](https://huggingface.co/${c.baseModel})`;
  return `## Base model\n\n${base}. Architecture: \`${c.architecture}\`.\n`;
}

function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}

function stageLine(s: CardStage, i: number): string {
  const outs = Object.entries(s.outputs).map(([p, d]) => `\`${p}\` (${shortDigest(d)})`).join(', ');
  return `${i + 1}. **${s.name}**: \`${s.command}\`${outs ? ` → ${outs}` : ''}`;
}

function provenanceLine(p: ProvenanceEntry, i: number): string {
  const opts = Object.entries(p.options).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
  return `${i + 1}. \`${p.op}\`${opts ? ` (${opts})` : ''}; inputs ${p.inputDigests.map(shortDigest).join(', ') || 'none'}; ${p.toolVersion}`;
}

function stagesSection(c: ModelCardInput): string {
  const lock = c.stages.length === 0 ? 'No pipeline lock was given (`--lock pipeline.lock.json`).' : c.stages.map(stageLine).join('\n');
  const link = c.lockFile === undefined ? '' : `\n\nPipeline configuration: [${c.lockFile}](${c.lockFile}).`;
  const prov = c.provenance.length === 0 ? 'The model file records no provenance.' : c.provenance.map(provenanceLine).join('\n');
  return `## Pipeline stages (in order)\n\n${lock}${link}\n\nProvenance recorded in the model itself (oldest first):\n\n${prov}\n`;
}

function dataSection(c: ModelCardInput): string {
  const body = c.dataSummary?.trim() || 'No training-data summary was given (`--data-summary FILE`), so no decontamination attestation is made.';
  return `## Training data and decontamination\n\n${body}\n`;
}

function percent(x: number | null): string {
  return x === null ? '–' : x.toFixed(2);
}

function resultsSection(c: ModelCardInput): string {
  if (c.results.length === 0) return '## Evaluation\n\nNo results were given (`--results FILE`).\n';
  const rows = c.results.map((r) => `| ${r.benchmark} | ${percent(r.passAt1)} | ${percent(r.passAt10)} | ${r.passed}/${r.total} | [${r.file}](${r.file}) |`);
  return `## Evaluation\n\n| Benchmark | pass@1 | pass@10 | solved | results |\n|---|---|---|---|---|\n${rows.join('\n')}\n`;
}

function sizeSection(c: ModelCardInput): string {
  const s = c.size;
  const dtypes = Object.entries(s.dtypes).sort(([a], [b]) => a.localeCompare(b)).map(([d, n]) => `${d} × ${n}`).join(', ');
  const f32 = s.parameters * 4;
  const share = f32 > 0 ? `${((100 * s.publishedBytes) / f32).toFixed(1)} % of` : 'vs';
  return `## Quantization and size\n\n- Parameters: ${s.parameters.toLocaleString('en-US')}\n- Tensor types: ${dtypes}\n- Source model: ${s.sourceBytes.toLocaleString('en-US')} bytes; published weights: ${s.publishedBytes.toLocaleString('en-US')} bytes (${share} the float32 size, ${f32.toLocaleString('en-US')} bytes)\n- Quality impact: not measured by \`apr publish\`; see the evaluation above, \`apr compare-hf\` and \`apr qa\`.\n`;
}

function filesSection(c: ModelCardInput): string {
  const rows = c.files.map((f) => `| ${f.name} | ${f.bytes.toLocaleString('en-US')} | \`${f.digest}\` |`);
  return `## Files\n\n| file | bytes | digest |\n|---|---|---|\n${rows.join('\n')}\n`;
}

/** The card's full text: front matter, then the Markdown sections. */
export function renderModelCard(c: ModelCardInput): string {
  const intro = `# ${c.modelName}\n\nBuilt with ${c.toolVersion} (TypeScript, no Python dependencies). Repository: \`${c.repoId}\`.\n`;
  return [frontMatter(c), intro, baseSection(c), stagesSection(c), dataSection(c), resultsSection(c), sizeSection(c), filesSection(c)].join('\n');
}
