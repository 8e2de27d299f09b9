/**
 * `apr data prep SRC_DIR`: instruction/response pairs from Python source. Files (`*.py`, walked
 * recursively in sorted path order, skipping hidden folders and `__pycache__`) are read one at a time; every
 * function and class with a docstring (python.ts) whose source is within [minLines, maxLines] lines becomes
 * one row:
 *   {"instruction": "Write a Python function `f(x) -> int`.\n\n<docstring>", "response": "<source>",
 *    "source": "<relative path>:<line>", "name": "f", "kind": "function", "corpus": "<name>"}
 * The response is the full source of the unit (decorators, header, docstring and body), dedented.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { withWriters } from './jsonl.js';
import { type PythonUnit, extractUnits } from './python.js';

export interface PrepOptions {
  source: string;
  output: string;
  minLines: number;
  maxLines: number;
  corpus?: string;
}

export interface PrepReport {
  source: string;
  output: string;
  files: number;
  units: number;
  pairs: number;
  skipped_no_docstring: number;
  skipped_length: number;
  min_lines: number;
  max_lines: number;
}

/** Every `*.py` file under `dir`, in sorted order of their paths relative to `dir`. */
function pythonFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.') || e.name === '__pycache__') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.py')) out.push(p);
    }
  };
  walk(dir);
  const key = (p: string): string => relative(dir, p).split(sep).join('/');
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The instruction for a unit: its kind and signature, then its docstring. */
function instructionFor(u: PythonUnit): string {
  return `Write a Python ${u.kind} \`${u.signature}\`.\n\n${u.docstring}`;
}

export function prepData(o: PrepOptions): Promise<PrepReport> {
  const r: PrepReport = { source: o.source, output: o.output, files: 0, units: 0, pairs: 0, skipped_no_docstring: 0, skipped_length: 0, min_lines: o.minLines, max_lines: o.maxLines };
  return withWriters([o.output], ([out]) => {
    for (const file of pythonFiles(o.source)) {
      r.files++;
      const rel = relative(o.source, file).split(sep).join('/');
      for (const u of extractUnits(readFileSync(file, 'utf8'))) {
        r.units++;
        if (u.docstring === '') r.skipped_no_docstring++;
        else if (u.lines < o.minLines || u.lines > o.maxLines) r.skipped_length++;
        else {
          r.pairs++;
          out?.writeObject({ instruction: instructionFor(u), response: u.source, source: `${rel}:${u.line}`, name: u.name, kind: u.kind, ...(o.corpus ? { corpus: o.corpus } : {}) });
        }
      }
    }
    return Promise.resolve(r);
  });
}
