/**
 * A strict JSON parser for safetensors headers. `JSON.parse` silently keeps the last of two equal keys and
 * turns `2.0` or `1e2` into integers; the reference reader (serde_json) rejects a repeated struct field,
 * a non-integer where an integer is due, lone surrogates, control characters in strings and nesting deeper
 * than 128. This parser reports those, and returns objects as Maps (so a key `__proto__` is just a key).
 */

/** A number literal that is not a safe integer (fraction, exponent, or beyond 2^53 - 1), kept as text. */
class JsonNumberLiteral {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | number | string | JsonNumberLiteral | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

/** A syntax error or a repeated key. `path` names the object the key repeats in (dotted, '' at the top). */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly duplicateKey?: string,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/** serde_json's default recursion limit. */
const MAX_DEPTH = 128;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings; this regex finds them
const CONTROL_RE = /[\u0000-\u001f]/;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    this.skipWs();
    const value = this.value('');
    this.skipWs();
    if (this.pos !== this.text.length) this.fail('trailing characters after the JSON value');
    return value;
  }

  private fail(what: string): never {
    throw new JsonSyntaxError(`${what} at character ${this.pos}`, '');
  }

  private skipWs(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  private value(path: string): JsonValue {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.nested(() => this.object(path));
      case '[':
        return this.nested(() => this.array(path));
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
    }
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    const v = parse();
    this.depth--;
    return v;
  }

  private literal<T>(word: string, v: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
    return v;
  }

  private number(): number | JsonNumberLiteral {
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.text);
    if (!m) return this.fail('invalid number');
    this.pos += m[0].length;
    // serde_json reads -0 as the float -0.0, like a literal with a fraction or an exponent.
    if (m[1] !== undefined || m[2] !== undefined || m[0] === '-0') return new JsonNumberLiteral(m[0]);
    const n = Number(m[0]);
    return Number.isSafeInteger(n) ? n : new JsonNumberLiteral(m[0]);
  }

  private string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      let end = this.pos;
      while (end < t.length && t[end] !== '"' && t[end] !== '\\') end++;
      const chunk = t.slice(this.pos, end);
      if (CONTROL_RE.test(chunk)) {
        this.pos += chunk.search(CONTROL_RE);
        this.fail('control character in string');
      }
      out += chunk;
      this.pos = end;
      if (end >= t.length) this.fail('unterminated string');
      if (t[end] === '"') {
        this.pos++;
        return out;
      }
      out += this.escape();
    }
  }

  private escape(): string {
    const e = this.text[this.pos + 1];
    if (e === 'u') return this.unicodeEscape();
    const mapped = e === undefined ? undefined : ESCAPES[e];
    if (mapped === undefined) this.fail('invalid escape');
    this.pos += 2;
    return mapped;
  }

  private hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
    return parseInt(h, 16);
  }

  private unicodeEscape(): string {
    const hi = this.hex4(this.pos + 2);
    this.pos += 6;
    if (hi >= 0xdc00 && hi <= 0xdfff) this.fail('lone trailing surrogate in \\u escape');
    if (hi < 0xd800 || hi > 0xdbff) return String.fromCharCode(hi);
    if (this.text[this.pos] !== '\\' || this.text[this.pos + 1] !== 'u') this.fail('lone leading surrogate in \\u escape');
    const lo = this.hex4(this.pos + 2);
    if (lo < 0xdc00 || lo > 0xdfff) this.fail('invalid surrogate pair in \\u escape');
    this.pos += 6;
    return String.fromCharCode(hi, lo);
  }

  private array(path: string): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWs();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.value(path));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  private object(path: string): JsonObject {
    this.pos++;
    const out: JsonObject = new Map();
    this.skipWs();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      if (out.has(key)) throw new JsonSyntaxError(`duplicate key ${JSON.stringify(key)}`, path, key);
      this.skipWs();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipWs();
      out.set(key, this.value(path === '' ? key : `${path}.${key}`));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
    }
  }
}

/** Parses a whole JSON document strictly (see the module comment). Throws JsonSyntaxError. */
export function parseStrictJson(text: string): JsonValue {
  return new Parser(text).parseDocument();
}
