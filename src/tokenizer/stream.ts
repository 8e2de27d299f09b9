/**
 * Incremental detokenisation for streaming output. A byte-level BPE token may carry only part of a UTF-8
 * character, and SentencePiece decoders strip a leading space only at the start of a text, so each new
 * token is decoded together with the tokens since the last emitted boundary (the prefix window) and only
 * the text beyond the window's own decoding is emitted, once it does not end in an incomplete character
 * (U+FFFD). This is the prefix/read-offset scheme of Hugging Face's text-generation-inference.
 */
export interface StreamDecoder {
  /** Adds one token; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string;
  /** Returns whatever is still held back (an incomplete character decodes to U+FFFD) and resets. */
  flush(): string;
}

export function createStreamDecoder(decode: (ids: readonly number[]) => string): StreamDecoder {
  let ids: number[] = [];
  let prefix = 0;
  let read = 0;
  const pending = (): { full: string; head: string } => ({
    full: decode(ids.slice(prefix)),
    head: read > prefix ? decode(ids.slice(prefix, read)) : '',
  });
  return {
    push(id: number): string {
      ids.push(id);
      const { full, head } = pending();
      if (full.length <= head.length || full.endsWith('\uFFFD')) return '';
      // Keep only the window [read, end): the next prefix starts where this read ended.
      ids = ids.slice(read);
      prefix = 0;
      read = ids.length;
      return full.slice(head.length);
    },
    flush(): string {
      const { full, head } = pending();
      ids = [];
      prefix = 0;
      read = 0;
      return full.slice(head.length);
    },
  };
}
