import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../formats/errors.js';
import { fileSource } from '../../formats/apr/index.js';
import { FOOTER_SIZE, HEADER_SIZE, MAGIC, VERSION_MAJOR, decodeHeader, headerCrc } from '../../formats/apr/layout.js';
import { computeFooter, parseHeader, parseIndex } from '../../formats/apr/parse.js';
import { readGguf } from '../../formats/gguf/index.js';
import { readJsonFile } from '../../formats/hf-dir/read.js';
import { openSafetensors } from '../../formats/safetensors/read.js';
import { type CheckContext, headerRepairedSource } from './context.js';
import { STAGE, ownerStage } from './ownership.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;

function aprHeaderFields(head: Uint8Array, f: Findings): void {
  const raw = decodeHeader(head);
  if (!MAGIC.every((b, i) => raw.magic[i] === b)) f.fail(`header.magic: expected "APR\\0", found ${JSON.stringify(String.fromCharCode(...raw.magic))}`);
  if (raw.major !== VERSION_MAJOR) f.fail(`header.version: ${raw.major}.${raw.minor}, expected 2.x`);
  const crc = headerCrc(head);
  if (crc !== raw.headerCrc) f.fail(`header.crc: stored ${hex(raw.headerCrc)}, computed ${hex(crc)} over bytes [0,40)+[44,64)`);
  const reserved = head.subarray(44, HEADER_SIZE).findIndex((b) => b !== 0);
  if (reserved >= 0) f.fail(`header.reserved: byte ${44 + reserved} is ${head[44 + reserved]}, expected 0`);
}

/** Magic, version, header CRC, flags, section bounds, truncation and the footer CRC of an APR file. */
function aprContainer(ctx: CheckContext, f: Findings): void {
  const src = fileSource(ctx.path);
  const view = headerRepairedSource(ctx.path);
  try {
    if (src.size < HEADER_SIZE + FOOTER_SIZE) {
      f.fail(`file: ${src.size} bytes is shorter than the ${HEADER_SIZE}-byte header and ${FOOTER_SIZE}-byte footer (truncated)`);
      return;
    }
    aprHeaderFields(src.read(0, HEADER_SIZE), f);
    let header: ReturnType<typeof parseHeader> | undefined;
    try {
      header = parseHeader(view);
    } catch (err) {
      const field = err instanceof FormatError ? err.field : '';
      if (!['header.magic', 'header.version'].includes(field)) f.fail(errorMessage(err));
    }
    if (header) {
      try {
        parseIndex(view, header);
      } catch (err) {
        // An entry that runs past the data section of a file whose index is otherwise sound: bytes are missing.
        if (err instanceof FormatError && err.field.endsWith('.offset') && err.message.includes('runs past')) f.fail(`file: truncated: ${err.message}`);
      }
    }
    const { stored, computed } = computeFooter(src);
    if (stored !== computed) f.fail(`footer.crc: stored ${hex(stored)}, computed ${hex(computed)} over bytes [0, ${src.size - FOOTER_SIZE}): the file changed after it was written`);
    if (f.fails.length === 0) f.note(`APR v2, ${mb(src.size)}, header and footer CRC32 match, sections in bounds`);
  } finally {
    src.close();
    view.close();
  }
}

function ggufContainer(ctx: CheckContext, f: Findings): void {
  try {
    const g = readGguf(ctx.path);
    g.close();
    const end = g.tensors.reduce((m, t) => Math.max(m, g.dataOffset + t.offset + t.byteLength), g.dataOffset);
    if (g.fileSize - end >= g.alignment) f.warn(`file: ${g.fileSize - end} bytes after the last tensor`);
    f.note(`GGUF v${g.version}, ${mb(g.fileSize)}, ${g.kv.size} KV pairs, ${g.tensors.length} tensors, data at ${g.dataOffset} (alignment ${g.alignment}), every tensor within the file`);
    f.note('GGUF has no checksums: changed tensor bytes can only show in stages 8-10');
  } catch (err) {
    const owner = ownerStage('gguf', err);
    const truncated = errorMessage(err).includes('past the end of the');
    if (owner === STAGE.container) f.fail(truncated ? `file: truncated: ${errorMessage(err)}` : errorMessage(err));
    else f.note(`header readable up to a stage-${owner} fault`);
  }
}

function shardPaths(ctx: CheckContext): string[] {
  if (ctx.format === 'safetensors') return [ctx.path];
  const indexPath = join(ctx.path, 'model.safetensors.index.json');
  if (!existsSync(indexPath)) return [join(ctx.path, 'model.safetensors')];
  const map = readJsonFile(indexPath)['weight_map'];
  const shards = typeof map === 'object' && map !== null ? Object.values(map as Record<string, unknown>) : [];
  return [...new Set(shards.filter((s): s is string => typeof s === 'string'))].sort().map((s) => join(ctx.path, s));
}

/** Each safetensors file: length prefix, header JSON, entries contiguous and covering the file exactly. */
function safetensorsContainer(ctx: CheckContext, f: Findings): void {
  let shards: string[];
  try {
    shards = shardPaths(ctx);
  } catch (err) {
    f.note(`no shard list (${errorMessage(err)}; stage 3)`);
    return;
  }
  let bytes = 0;
  for (const shard of shards) {
    try {
      const file = openSafetensors(shard);
      const last = file.entries[file.entries.length - 1];
      bytes += last ? last.end : 0;
      file.close();
    } catch (err) {
      if (ownerStage(ctx.format, err) === STAGE.container) f.fail(errorMessage(err));
    }
  }
  if (f.fails.length === 0) f.note(`${shards.length} safetensors file(s), ${mb(bytes)}: headers parse, tensors contiguous and cover each file exactly`);
}

export const containerStage: Stage = {
  id: 1,
  name: 'container',
  run(ctx): StageOutcome {
    const f = new Findings();
    if (ctx.format === undefined) {
      f.fail(errorMessage(ctx.formatError));
      return f.outcome();
    }
    if (ctx.format === 'apr') aprContainer(ctx, f);
    else if (ctx.format === 'gguf') ggufContainer(ctx, f);
    else safetensorsContainer(ctx, f);
    return f.outcome();
  },
};
