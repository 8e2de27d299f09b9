/** Inside a string literal: the index of its last character on this line, and whether it closed there. */
function skipInString(line: string, i: number, quote: string): { i: number; closed: boolean } {
  if (line[i] === '\\') return { i: i + 1, closed: false };
  if (line.startsWith(quote, i)) return { i: i + quote.length - 1, closed: true };
  return { i, closed: false };
}

/** The quote that opens at `i` (`'`, `"` or a triple quote), or null. */
function quoteAt(line: string, i: number): string | null {
  const ch = line[i] ?? '';
  if (ch !== '"' && ch !== "'") return null;
  return line.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
}

const DEPTH: Readonly<Record<string, number>> = { '(': 1, '[': 1, '{': 1, ')': -1, ']': -1, '}': -1 };

/**
 * Bracket depth change of one line of Python, skipping string literals and comments. `open` carries an
 * unterminated triple-quoted string from the previous line.
 */
function scanLine(line: string, open: string | null): { depth: number; open: string | null } {
  let depth = 0;
  let quote = open;
  for (let i = 0; i < line.length; i++) {
    if (quote !== null) {
      const s = skipInString(line, i, quote);
      i = s.i;
      if (s.closed) quote = null;
      continue;
    }
    if (line[i] === '#') break;
    quote = quoteAt(line, i);
    if (quote !== null) i += quote.length - 1;
    else depth += DEPTH[line[i] ?? ''] ?? 0;
  }
  // a single-quoted string cannot span lines
  return { depth, open: quote !== null && quote.length === 3 ? quote : null };
}

/**
 * The assert statements of a test program, each as one dedented logical line (continuation lines joined),
 * in source order. HumanEval's `check(candidate)` bodies and MBPP's `test_list` are both covered.
 */
export function extractAsserts(source: string): string[] {
  const lines = source.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = (lines[i] ?? '').trim();
    if (!/^assert\b/.test(first)) continue;
    const parts = [first];
    let state = scanLine(first, null);
    let depth = state.depth;
    while ((depth > 0 || state.open !== null || (parts[parts.length - 1] ?? '').endsWith('\\')) && i + 1 < lines.length) {
      i++;
      const next = (lines[i] ?? '').trim();
      parts.push(next);
      state = scanLine(next, state.open);
      depth += state.depth;
    }
    out.push(parts.map((p) => p.replace(/\\$/, '')).join(' ').trim());
  }
  return out;
}
