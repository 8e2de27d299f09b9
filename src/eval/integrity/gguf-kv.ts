import { Cursor } from '../../formats/gguf/cursor.js';
import { readType, readValue } from '../../formats/gguf/read-values.js';
import { fileSource } from '../../formats/byte-source.js';
import type { GgufValue } from '../../formats/gguf/index.js';

/** Smallest KV pair: empty key (u64 length), type u32, one byte of value. */
const MIN_KV_BYTES = 8 + 4 + 1;

/**
 * The KV section of a GGUF file alone (magic, version, counts, key/value pairs), so that the metadata stage
 * can judge the hyper-parameters even when the tensor directory after them is damaged.
 */
export function readGgufKv(path: string): Map<string, GgufValue> {
  const src = fileSource(path);
  try {
    const c = new Cursor(src, path);
    c.u32('magic');
    c.u32('version');
    c.u64('tensor_count');
    const n = c.length('kv_count', Math.floor(c.remaining / MIN_KV_BYTES), 'kv count');
    const kv = new Map<string, GgufValue>();
    for (let i = 0; i < n; i++) {
      const key = c.string(`kv[${i}].key`);
      kv.set(key, readValue(c, readType(c, `${key}.type`), key));
    }
    return kv;
  } finally {
    src.close();
  }
}
