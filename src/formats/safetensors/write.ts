import { type DType, byteSize, isQuantized } from '../../tensor/dtype.js';
import type { TensorRef } from '../../tensor/store.js';
import { AtomicFile } from '../atomic-write.js';
import { FormatError } from '../errors.js';
import { SAFETENSORS_DTYPES } from './read.js';

/**
 * Rank of each dtype in the reference `Dtype` enum, which is declared in increasing alignment order; the
 * reference writer lays tensors out by descending rank, then by name (byte order of the UTF-8).
 */
const DTYPE_RANK: Partial<Record<DType, number>> = { I8: 0, I16: 1, F16: 2, BF16: 3, I32: 4, F32: 5 };

export interface SafetensorsLayout {
  /** The 8-byte length prefix followed by the JSON header padded with spaces to a multiple of 8. */
  prefix: Uint8Array;
  /** Tensors in the order their bytes follow the header. */
  order: TensorRef[];
  /** Total file size in bytes. */
  fileBytes: number;
}

const utf8 = new TextEncoder();

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function checkTensor(path: string, t: TensorRef): void {
  if (!(SAFETENSORS_DTYPES as readonly string[]).includes(t.dtype)) {
    const hint = isQuantized(t.dtype) ? 'export as gguf to keep it quantized, or dequantize it first' : `supported: ${SAFETENSORS_DTYPES.join(', ')}`;
    throw new FormatError(path, `${t.name}.dtype`, `${t.dtype} cannot be stored in safetensors (${hint})`);
  }
  if (!wellFormed(t.name)) throw new FormatError(path, t.name, 'tensor name is not well-formed Unicode');
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new FormatError(path, `${t.name}.shape`, `invalid shape ${JSON.stringify(t.shape)}`);
  const size = byteSize(t.dtype, t.shape);
  if (t.byteLength !== size) throw new FormatError(path, `${t.name}.shape`, `${t.dtype}${JSON.stringify(t.shape)} needs ${size} bytes but the tensor has ${t.byteLength}`);
}

/** serde_json's compact form of the header: `__metadata__` first, then the tensors in data order. */
function headerJson(order: readonly TensorRef[], metadata: Record<string, string> | undefined): string {
  const parts: string[] = [];
  if (metadata !== undefined) {
    // Rust's HashMap has no fixed order; sorting makes ours deterministic (one key, as transformers writes, is exact).
    const keys = Object.keys(metadata).sort(compareUtf8);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const t of order) {
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + t.byteLength}]}`);
    offset += t.byteLength;
  }
  return `{${parts.join(',')}}`;
}

/**
 * The header and data order the reference writer (`safetensors.torch.save_file`, Rust `serialize`) produces
 * for these tensors: descending dtype alignment then name, compact JSON, spaces up to a multiple of 8.
 */
export function planSafetensors(path: string, tensors: Iterable<TensorRef>, metadata?: Record<string, string>): SafetensorsLayout {
  const order = [...tensors];
  const seen = new Set<string>();
  for (const t of order) {
    checkTensor(path, t);
    if (t.name === '__metadata__') throw new FormatError(path, t.name, 'reserved for the metadata map, not a tensor name');
    if (seen.has(t.name)) throw new FormatError(path, t.name, 'duplicate tensor name');
    seen.add(t.name);
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string' || !wellFormed(k) || !wellFormed(v)) throw new FormatError(path, `__metadata__.${k}`, 'expected a well-formed string');
  }
  order.sort((a, b) => (DTYPE_RANK[b.dtype] ?? 0) - (DTYPE_RANK[a.dtype] ?? 0) || compareUtf8(a.name, b.name));
  const json = utf8.encode(headerJson(order, metadata));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const prefix = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  const dataBytes = order.reduce((n, t) => n + t.byteLength, 0);
  return { prefix, order, fileBytes: prefix.byteLength + dataBytes };
}

function readChecked(path: string, t: TensorRef): Uint8Array {
  const bytes = t.read();
  if (bytes.byteLength !== t.byteLength) throw new FormatError(path, t.name, `read ${bytes.byteLength} bytes, expected ${t.byteLength}`);
  return bytes;
}

/**
 * Writes a .safetensors file byte-identical to the reference writer's, streaming one tensor at a time
 * through a temporary file that is renamed into place. Returns the file size.
 */
export function writeSafetensors(path: string, tensors: Iterable<TensorRef>, metadata?: Record<string, string>): number {
  const layout = planSafetensors(path, tensors, metadata);
  const file = new AtomicFile(path);
  try {
    file.write(layout.prefix);
    for (const t of layout.order) file.write(readChecked(path, t));
    file.commit();
  } catch (err) {
    file.abort();
    throw err;
  }
  return layout.fileBytes;
}

/** The same file as bytes in memory (for small outputs and tests). */
export function serializeSafetensors(tensors: Iterable<TensorRef>, metadata?: Record<string, string>): Uint8Array {
  const layout = planSafetensors('<memory>', tensors, metadata);
  const out = new Uint8Array(layout.fileBytes);
  out.set(layout.prefix, 0);
  let at = layout.prefix.byteLength;
  for (const t of layout.order) {
    out.set(readChecked('<memory>', t), at);
    at += t.byteLength;
  }
  return out;
}
