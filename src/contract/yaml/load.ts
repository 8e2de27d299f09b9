import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { Diagnostic } from './diagnostic.js';
import { ContractYamlSchema, type ContractYaml } from './schema.js';

export type YamlPath = readonly (string | number)[];

export interface LoadedContract {
  id: string;
  /** Path as given to the loader's caller: relative to `root` when a root is known. */
  file: string;
  doc: ContractYaml;
  /** The parsed value before validation (for unknown-key checks). */
  raw: unknown;
  /** 1-based line of the node at `path` (or of its nearest ancestor). */
  lineOf: (path: YamlPath) => number | undefined;
}

export interface LoadResult {
  contracts: LoadedContract[];
  /** Parse and schema problems (rules PV001, PV002); files with problems are not in `contracts`. */
  problems: Diagnostic[];
}

interface ParsedFile {
  raw: unknown;
  lineOf: (path: YamlPath) => number | undefined;
  errors: { message: string; line?: number }[];
}

function parseYamlFile(text: string): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lines.linePos(offset).line;
  const lineOf = (path: YamlPath): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lineAt(range[0]);
    }
    return undefined;
  };
  const errors = doc.errors.map((e) => ({ message: e.message.split('\n')[0] ?? e.message, line: e.pos[0] >= 0 ? lineAt(e.pos[0]) : undefined }));
  return { raw: errors.length > 0 ? undefined : (doc.toJS() as unknown), lineOf, errors };
}

/** Parses and validates one contract file. `display` is the name used in diagnostics. */
export function loadContractFile(path: string, display: string = path): { contract?: LoadedContract; problems: Diagnostic[] } {
  const parsed = parseYamlFile(readFileSync(path, 'utf8'));
  if (parsed.errors.length > 0) {
    return { problems: parsed.errors.map((e) => ({ rule: 'PV001', severity: 'error', file: display, ...(e.line ? { line: e.line } : {}), message: `YAML does not parse: ${e.message}` })) };
  }
  const result = ContractYamlSchema.safeParse(parsed.raw);
  if (!result.success) {
    const problems: Diagnostic[] = result.error.issues.map((issue) => {
      const at = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const line = parsed.lineOf(at);
      return { rule: 'PV002', severity: 'error', file: display, ...(line ? { line } : {}), message: `${at.length ? at.join('.') : '(document)'}: ${describeIssue(issue.message, issue.code)}` };
    });
    return { problems };
  }
  return { contract: { id: result.data.metadata.id, file: display, doc: result.data, raw: parsed.raw, lineOf: parsed.lineOf }, problems: [] };
}

function describeIssue(message: string, code: string): string {
  if (code === 'invalid_type' && /received undefined/.test(message)) return `missing field (${message.replace(/^Invalid input: /, '')})`;
  return message;
}

/** The contract files of a folder (`*.yaml`, `*.yml`), sorted by name. */
function contractFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Loads every contract YAML in `dir`. Paths in diagnostics are relative to `root` (default: the current
 * directory). A file that does not parse or validate is reported in `problems` and left out of `contracts`.
 */
export function loadContracts(dir: string, root: string = process.cwd()): LoadResult {
  const contracts: LoadedContract[] = [];
  const problems: Diagnostic[] = [];
  for (const path of contractFiles(dir)) {
    const r = loadContractFile(path, relative(root, path) || basename(path));
    if (r.contract) contracts.push(r.contract);
    problems.push(...r.problems);
  }
  return { contracts, problems };
}
