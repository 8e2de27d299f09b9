/**
 * LoRA adapters on the command line: `apr inspect|tensors <adapter>`, `apr import|export <adapter> -o <out>
 * [--base <model>]` (PEFT folder ↔ llama.cpp LoRA GGUF) and the repeatable `--lora <adapter>[:scale]` of
 * `apr run` / `apr chat` (applied unmerged, as llama.cpp's --lora / --lora-scaled).
 */
import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { adapterFormat } from '../../formats/peft/open.js';
import { type AdapterInspectResult, type AdapterSpec, applyAdapters, convertAdapter, inspectAdapter } from '../../ops/adapter.js';
import type { ModelBundle } from '../../tensor/bundle.js';
import { printJson, printTable } from '../output.js';

/** True when `path` is a LoRA adapter (PEFT folder or GGUF with general.type = adapter). */
export function isAdapter(path: string): boolean {
  return adapterFormat(path) !== undefined;
}

function printAdapter(r: AdapterInspectResult): void {
  printTable(['field', 'value'], [
    ['path', r.path],
    ['format', r.format === 'gguf' ? 'gguf (llama.cpp LoRA adapter)' : 'peft (LoRA adapter folder)'],
    ['architecture', r.architecture ?? '-'],
    ['rank / alpha / scale', `${r.ranks.length > 1 ? r.ranks.join(',') : r.rank} / ${r.alpha} / ${r.scale}`],
    ['targets', r.targets.join(', ')],
    ['modules', r.modules],
    ['parameters', r.parameters.toLocaleString('en-US')],
    ['tensors', r.tensor_count],
    ['dtypes', Object.entries(r.dtypes).map(([d, n]) => `${d}×${n}`).join(' ')],
    ['size', `${(r.file_bytes / 1e6).toFixed(2)} MB`],
  ]);
  if (r.tensors) {
    process.stdout.write('\n');
    printTable(['name', 'dtype', 'shape', 'bytes'], r.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, t.bytes]));
  }
}

/** `apr inspect <adapter>`. */
export function inspectAdapterAction(path: string, o: { tensors?: boolean; json?: boolean }): void {
  const r = inspectAdapter(path, o.tensors ?? false);
  if (o.json) printJson(r);
  else printAdapter(r);
}

/** `apr tensors <adapter>`. */
export function adapterTensorsAction(path: string, o: { json?: boolean }): void {
  const tensors = inspectAdapter(path, true).tensors ?? [];
  if (o.json) printJson(tensors);
  else printTable(['name', 'dtype', 'shape', 'bytes'], tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, t.bytes]));
}

/** `apr import|export <adapter> -o <out> [--format peft|gguf] [--base <model>]`. */
export function convertAdapterAction(input: string, o: { output: string; format?: string; base?: string; json?: boolean }): void {
  const r = convertAdapter({ input, output: o.output, ...(o.format ? { format: o.format } : {}), ...(o.base ? { base: o.base } : {}) });
  if (o.json) printJson(r);
  else process.stdout.write(`wrote ${r.output} (${r.format === 'gguf' ? 'llama.cpp LoRA GGUF' : 'PEFT adapter folder'}): ${r.modules} LoRA modules, ${r.tensors} tensors, ${r.parameters.toLocaleString('en-US')} parameters, ${(r.bytes / 1e6).toFixed(2)} MB\n`);
}

/** Parses `PATH` or `PATH:SCALE` (a path that exists as given is never split). */
export function parseLoraSpec(value: string): AdapterSpec {
  if (existsSync(value)) return { path: value, scale: 1 };
  const i = value.lastIndexOf(':');
  const scale = i > 0 ? Number(value.slice(i + 1)) : NaN;
  if (i > 0 && value.slice(i + 1).trim() !== '' && Number.isFinite(scale)) return { path: value.slice(0, i), scale };
  if (i > 0 && existsSync(value.slice(0, i))) throw new InvalidArgumentError(`--lora: the scale after ':' must be a finite number, got '${value.slice(i + 1)}'`);
  return { path: value, scale: 1 };
}

/** Adds the repeatable `--lora <adapter>[:scale]` option. */
export function addLoraFlag(cmd: Command): Command {
  return cmd.option(
    '--lora <adapter[:scale]>',
    "apply a LoRA adapter unmerged (llama.cpp LoRA GGUF or PEFT folder): y = W·x + scale·(alpha/rank)·B·A·x (scale default 1; llama.cpp's --lora / --lora-scaled FNAME:SCALE); repeat for several",
    (v: string, prev: AdapterSpec[] = []) => [...prev, parseLoraSpec(v)],
  );
}

/** The bundle with the `--lora` adapters applied (the bundle itself when there are none). */
export function withLoraFlags(bundle: ModelBundle, specs: readonly AdapterSpec[] | undefined): ModelBundle {
  if (specs === undefined || specs.length === 0) return bundle;
  try {
    return applyAdapters(bundle, specs);
  } catch (err) {
    bundle.tensors.close();
    throw err;
  }
}
