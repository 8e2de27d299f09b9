/**
 * Function and class extraction from Python source for `apr data prep`, on the line classes of
 * python-lines.ts: a unit starts at a statement-start `def`, `async def` or `class` line (nested ones
 * included), takes the decorators above it at the same indentation, its header runs to the end of that
 * logical line (multi-line signatures), and its block ends before the next non-blank statement start that is
 * indented no deeper than the header. Its docstring is a string literal (triple-quoted or not, with an
 * optional r/u prefix) that is the first statement of the block.
 */
import { type LineInfo, classifyLines } from './python-lines.js';

export interface PythonUnit {
  kind: 'function' | 'class';
  name: string;
  /** The header without `def`/`class` and the trailing colon, whitespace collapsed: `f(x, y=1) -> int`. */
  signature: string;
  /** The docstring, dedented and trimmed ('' when there is none). */
  docstring: string;
  /** The source from the first decorator to the end of the block, dedented. */
  source: string;
  /** 1-based line of the def/class keyword. */
  line: number;
  /** Lines in `source`. */
  lines: number;
}

const HEADER = /^\s*(async\s+def|def|class)\s+([A-Za-z_]\w*)/;
const DOCSTRING = /^[rRuU]{0,2}("""|'''|"|')([\s\S]*?)(?<!\\)\1/;

function logicalEnd(info: readonly LineInfo[], i: number): number {
  let k = i;
  while (k + 1 < info.length && !(info[k + 1]?.start ?? true)) k++;
  return k;
}

function blockEnd(info: readonly LineInfo[], headerEnd: number, indent: number): number {
  let m = headerEnd + 1;
  while (m < info.length) {
    const l = info[m];
    if (l !== undefined && l.start && !l.blank && l.indent <= indent) break;
    m++;
  }
  while (m > headerEnd + 1 && (info[m - 1]?.blank ?? false)) m--;
  return m;
}

function decoratorStart(lines: readonly string[], info: readonly LineInfo[], i: number): number {
  let first = i;
  let j = i - 1;
  while (j >= 0) {
    let s = j;
    while (s > 0 && !(info[s]?.start ?? true)) s--;
    const l = info[s];
    if (l === undefined || l.indent !== info[i]?.indent || !(lines[s] ?? '').trim().startsWith('@')) break;
    first = s;
    j = s - 1;
  }
  return first;
}

/** Removes the common leading whitespace of the non-blank lines. */
function dedent(lines: readonly string[]): string {
  const widths = lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length);
  const cut = widths.length === 0 ? 0 : Math.min(...widths);
  return lines.map((l) => l.slice(Math.min(cut, l.length - l.trimStart().length))).join('\n');
}

/** Removes up to `cut` leading whitespace characters from every line (lines inside strings may have fewer). */
function dedentBy(lines: readonly string[], cut: number): string {
  return lines.map((l) => l.slice(Math.min(cut, l.length - l.trimStart().length))).join('\n');
}

function cleanDoc(raw: string): string {
  const [first = '', ...rest] = raw.split('\n');
  return [first.trim(), dedent(rest)].join('\n').trim();
}

function docstring(lines: readonly string[], info: readonly LineInfo[], from: number, to: number): string {
  let b = from;
  while (b < to && (info[b]?.blank ?? false)) b++;
  if (b >= to) return '';
  const text = lines.slice(b, logicalEnd(info, b) + 1).join('\n').trim();
  const m = DOCSTRING.exec(text);
  return m === null ? '' : cleanDoc(m[2] ?? '');
}

function signature(lines: readonly string[], i: number, end: number): string {
  const header = lines.slice(i, end + 1).join(' ').replace(/\s+/g, ' ').trim();
  const body = header.replace(/^(async\s+def|def|class)\s+/, '');
  const colon = body.lastIndexOf(':');
  const sig = colon < 0 ? body : body.slice(0, colon);
  return sig.replace(/\(\s+/g, '(').replace(/\s+\)/g, ')').replace(/,\)/g, ')').trim();
}

function unitAt(lines: readonly string[], info: readonly LineInfo[], i: number, m: RegExpExecArray): PythonUnit {
  const headerEnd = logicalEnd(info, i);
  const end = blockEnd(info, headerEnd, info[i]?.indent ?? 0);
  const first = decoratorStart(lines, info, i);
  const body = lines.slice(first, end);
  return {
    kind: m[1] === 'class' ? 'class' : 'function',
    name: m[2] ?? '',
    signature: signature(lines, i, headerEnd),
    docstring: docstring(lines, info, headerEnd + 1, end),
    source: dedentBy(body, (lines[i] ?? '').length - (lines[i] ?? '').trimStart().length),
    line: i + 1,
    lines: body.length,
  };
}

/** Every function and class of `source`, in source order (outer before inner). */
export function extractUnits(source: string): PythonUnit[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const info = classifyLines(lines);
  const units: PythonUnit[] = [];
  lines.forEach((line, i) => {
    if (!(info[i]?.start ?? false)) return;
    const m = HEADER.exec(line);
    if (m !== null) units.push(unitAt(lines, info, i, m));
  });
  return units;
}
