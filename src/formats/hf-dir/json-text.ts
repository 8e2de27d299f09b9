/**
 * JSON text as Python's `json.dumps(value, indent=2, sort_keys=True)` writes it (what transformers and peft
 * use for config.json, tokenizer_config.json, adapter_config.json and the shard index). Numbers are written
 * the JavaScript way, so a float such as `10000.0` comes out as `10000`; the parsed value is the same.
 */
export function pythonJsonDumps(value: unknown, options: { ensureAscii?: boolean } = {}): string {
  const text = JSON.stringify(sortKeys(value), null, 2);
  if (!options.ensureAscii) return text;
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  // Python sorts str keys by code point; for keys outside the BMP this differs from UTF-16 order only in rare cases.
  for (const k of Object.keys(value).sort()) {
    Object.defineProperty(out, k, { value: sortKeys((value as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
