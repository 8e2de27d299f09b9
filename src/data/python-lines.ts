/**
 * A line classifier for Python source, enough to find statements without a full parser: it tracks
 * triple-quoted strings, one-line strings, comments, bracket depth and backslash continuations, and marks
 * each physical line that starts a logical line (a statement start), with its indentation and whether it
 * is blank or a comment only.
 */

export interface LineInfo {
  /** The line starts a logical line (not inside a string, brackets or a backslash continuation). */
  start: boolean;
  /** Blank or comment only. */
  blank: boolean;
  /** Leading whitespace width (tab = 8). */
  indent: number;
}

interface ScanState {
  /** The open triple quote, if inside a triple-quoted string. */
  quote: string | null;
  depth: number;
  continued: boolean;
}

/** Index just past the closing `quote` from `i`, honouring backslash escapes; -1 if not on this line. */
function closeQuote(line: string, i: number, quote: string): number {
  let j = i;
  while (j < line.length) {
    if (line[j] === '\\') j += 2;
    else if (line.startsWith(quote, j)) return j + quote.length;
    else j++;
  }
  return -1;
}

function bracket(c: string, depth: number): number {
  if (c === '(' || c === '[' || c === '{') return depth + 1;
  if (c === ')' || c === ']' || c === '}') return Math.max(0, depth - 1);
  return depth;
}

/** Advances `s` over one physical line. */
function scan(line: string, s: ScanState): void {
  let i = 0;
  while (i < line.length) {
    if (s.quote !== null) {
      const end = closeQuote(line, i, s.quote);
      if (end < 0) return;
      s.quote = null;
      i = end;
      continue;
    }
    const c = line[i] ?? '';
    if (c === '#') return;
    if (c === '"' || c === "'") {
      const triple = c.repeat(3);
      if (line.startsWith(triple, i)) {
        s.quote = triple;
        i += 3;
      } else {
        const end = closeQuote(line, i + 1, c);
        i = end < 0 ? line.length : end;
      }
      continue;
    }
    s.depth = bracket(c, s.depth);
    i++;
  }
}

function indentOf(line: string): number {
  let w = 0;
  for (const c of line) {
    if (c === ' ') w++;
    else if (c === '\t') w = (Math.floor(w / 8) + 1) * 8;
    else break;
  }
  return w;
}

/** One LineInfo per physical line of `lines`. */
export function classifyLines(lines: readonly string[]): LineInfo[] {
  const s: ScanState = { quote: null, depth: 0, continued: false };
  return lines.map((line) => {
    const start = s.quote === null && s.depth === 0 && !s.continued;
    const trimmed = line.trim();
    const info: LineInfo = { start, blank: start && (trimmed === '' || trimmed.startsWith('#')), indent: indentOf(line) };
    scan(line, s);
    s.continued = s.quote === null && line.trimEnd().endsWith('\\');
    return info;
  });
}
