import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../formats/errors.js';
import { FLAGS } from '../../formats/apr/layout.js';
import { parseHeader, parseIndex } from '../../formats/apr/parse.js';
import { hfNameFromGguf, readGguf } from '../../formats/gguf/index.js';
import { readJsonFile } from '../../formats/hf-dir/read.js';
import type { ModelBundle } from '../../tensor/bundle.js';
import { isQuantized } from '../../tensor/dtype.js';
import { type CheckContext, headerRepairedSource } from './context.js';
import { STAGE, ownerStage } from './ownership.js';
import { expectedTensors } from './tensors.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

const short = (d: string): string => `${d.slice(0, 23)}…`;

/** APR: the index as the reader validates it (sorted, unique, aligned, in bounds, no overlap, size = dtype × shape). */
function aprIndex(ctx: CheckContext, f: Findings): boolean {
  const src = headerRepairedSource(ctx.path);
  try {
    const header = parseHeader(src);
    const { entries } = parseIndex(src, header);
    const quantized = entries.some((e) => isQuantized(e.dtype));
    if (quantized !== ((header.flags & FLAGS.QUANTIZED) !== 0)) f.warn(`header.flags: QUANTIZED is ${quantized ? 'clear' : 'set'} but the index holds ${quantized ? 'quantized' : 'no quantized'} tensors`);
    f.note(`${entries.length} entries sorted by name, unique, 64-byte aligned, in bounds, no overlaps, sizes = dtype × shape`);
    return true;
  } catch (err) {
    const inHeader = err instanceof FormatError && (err.field.startsWith('header') || err.field === 'file');
    f.fail(inHeader ? `not checked: ${errorMessage(err)} (stage 1)` : errorMessage(err));
    return false;
  } finally {
    src.close();
  }
}

/** Every tensor's stored bytes against the digest the writer recorded. */
function digests(ctx: CheckContext, bundle: ModelBundle, f: Findings): void {
  const integrity = bundle.integrity;
  if (!integrity) {
    if (ctx.format === 'apr') f.warn('metadata.integrity: no per-tensor digests recorded');
    else f.note(`${ctx.format ?? 'this format'} carries no per-tensor digests`);
    return;
  }
  const actual = ctx.tensorDigests();
  let ok = 0;
  for (const [name, digest] of actual) {
    const recorded = integrity[name];
    if (recorded === undefined) f.fail(`metadata.integrity.${name}: missing digest`);
    else if (recorded !== digest) f.fail(`metadata.integrity.${name}: stored bytes hash to ${short(digest)}, the file records ${short(recorded)} (stale digest or changed bytes)`);
    else ok++;
  }
  if (ok === actual.size) f.note(`${ok} SHA-256 digests match`);
}

function ggufIndex(ctx: CheckContext, f: Findings): void {
  try {
    const g = readGguf(ctx.path);
    g.close();
    const archKv = g.kv.get('general.architecture');
    const arch = archKv?.type === 'string' ? archKv.value : 'llama';
    const unmapped = g.tensors.filter((t) => hfNameFromGguf(t.name, arch) === undefined).map((t) => t.name);
    if (unmapped.length > 0) f.warn(`tensors with no ${arch} role: ${unmapped.join(', ')}`);
    f.note(`${g.tensors.length} tensor infos: unique names, known types, offsets aligned to ${g.alignment}, no overlaps`);
  } catch (err) {
    if (ownerStage('gguf', err) === STAGE.index) f.fail(errorMessage(err));
    else f.fail(`not checked: ${errorMessage(err)} (stage ${ownerStage('gguf', err)})`);
  }
}

/** HF folder: the shard index's recorded total against the tensors it maps. */
function hfIndex(ctx: CheckContext, bundle: ModelBundle, f: Findings): void {
  const indexPath = join(ctx.path, 'model.safetensors.index.json');
  if (ctx.format !== 'hf-dir' || !existsSync(indexPath)) return;
  const meta = readJsonFile(indexPath)['metadata'];
  const total = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>)['total_size'] : undefined;
  const bytes = bundle.tensors.names().reduce((n, name) => n + (bundle.tensors.get(name)?.byteLength ?? 0), 0);
  if (typeof total === 'number' && total !== bytes) f.fail(`model.safetensors.index.json: metadata.total_size ${total}, the shards hold ${bytes} bytes of tensors`);
}

function unusedTensors(bundle: ModelBundle, f: Findings): void {
  const expected = expectedTensors(bundle.config);
  const extra = bundle.tensors.names().filter((n) => !expected.has(n));
  if (extra.length > 0) f.warn(`${extra.length} tensor(s) the ${bundle.config.architecture} decoder does not use: ${extra.slice(0, 4).join(', ')}${extra.length > 4 ? ', …' : ''}`);
}

export const indexStage: Stage = {
  id: 3,
  name: 'tensor index',
  run(ctx): StageOutcome {
    const f = new Findings();
    if (ctx.format === 'apr' && !aprIndex(ctx, f)) return f.outcome();
    if (ctx.format === 'gguf') ggufIndex(ctx, f);
    if (f.fails.length > 0) return f.outcome();
    const bundle = ctx.bundle();
    hfIndex(ctx, bundle, f);
    unusedTensors(bundle, f);
    digests(ctx, bundle, f);
    return f.outcome();
  },
};
