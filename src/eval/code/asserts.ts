/**
 * Bracket depth change of one line of Python, skipping string literals and comments. `open` carries an
 * unterminated triple-quoted string from the previous line.
 */
function scanLine(line: string, open: string | null): { depth: number; open: string | null } {
  let depth = 0;
  let quote = open;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] ?? '';
    if (quote !== null) {
      if (ch === '\\') i++;
      else if (line.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
      }
      continue;
    }
    if (ch === '#') break;
    if (ch === '"' || ch === "'") {
      const triple = line.startsWith(ch.repeat(3), i);
      quote = triple ? ch.repeat(3) : ch;
      if (triple) i += 2;
    } else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
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
