import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Diagnostic } from '../yaml/diagnostic.js';
import { loadContracts, type LoadedContract } from '../yaml/load.js';
import { KNOWN_KEYS, type Obligation } from '../yaml/schema.js';
import { ruleById } from './rules.js';
import { tagsInFile } from './tags.js';

export interface LintOptions {
  /** Project root: test files and harnesses are resolved against it. */
  root: string;
  /** Folder of contract YAMLs (default `<root>/contracts`). */
  dir?: string;
}

type Emit = (rule: string, c: LoadedContract, path: readonly (string | number)[], message: string, severity?: Diagnostic['severity']) => void;

const NUMERIC_TEXT = /\d\.\d|\d[eE][-+]?\d|≈|~=|\bwithin\b|\bapprox|\bulps?\b|\bfloat|\bfp(16|32|64)\b|\btolerance\b|\b(relative|absolute|abs) error\b/i;

/** True when the obligation is about floating-point values (declared, or evident from its text). */
export function isNumericObligation(o: Obligation): boolean {
  return o.numeric ?? NUMERIC_TEXT.test(`${o.formal} ${o.property}`);
}

/** Schema-level validation only (rules PV001–PV002). */
export function validateContracts(opts: LintOptions): { contracts: LoadedContract[]; diagnostics: Diagnostic[] } {
  const r = loadContracts(opts.dir ?? join(opts.root, 'contracts'), opts.root);
  return { contracts: r.contracts, diagnostics: r.problems };
}

/** Every lint rule over a folder of contracts. Diagnostics are sorted by file, line, rule. */
export function lintContracts(opts: LintOptions): Diagnostic[] {
  const { contracts, diagnostics } = validateContracts(opts);
  const out: Diagnostic[] = [...diagnostics];
  const emit: Emit = (rule, c, path, message, severity) => {
    const line = c.lineOf(path);
    out.push({ rule, severity: severity ?? ruleById(rule)?.severity ?? 'error', file: c.file, ...(line ? { line } : {}), message });
  };
  const tagCache = new Map<string, Set<string> | undefined>();
  checkGlobalIds(contracts, emit);
  for (const c of contracts) {
    checkIdentity(c, emit);
    checkLocalIds(c, emit);
    checkEquations(c, emit);
    checkProofs(c, opts.root, emit);
    checkTests(c, opts.root, tagCache, emit);
    checkTolerances(c, emit);
    checkUnknownKeys(c, emit);
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || a.rule.localeCompare(b.rule));
}

function checkIdentity(c: LoadedContract, emit: Emit): void {
  const stem = basename(c.file).replace(/\.ya?ml$/, '');
  if (stem !== c.id) emit('PV003', c, ['metadata', 'id'], `metadata.id '${c.id}' differs from the file name '${stem}'`);
  if (Object.keys(c.doc.equations).length === 0) emit('PV016', c, ['equations'], 'the contract defines no equation');
}

function checkGlobalIds(contracts: readonly LoadedContract[], emit: Emit): void {
  const contractIds = new Map<string, string>();
  const obligationOwners = new Map<string, string>();
  for (const c of contracts) {
    const prev = contractIds.get(c.id);
    if (prev) emit('PV004', c, ['metadata', 'id'], `contract id '${c.id}' is also used by ${prev}`);
    else contractIds.set(c.id, c.file);
    c.doc.proof_obligations.forEach((o, i) => {
      const owner = obligationOwners.get(o.id);
      if (owner && owner !== c.file) emit('PV004', c, ['proof_obligations', i, 'id'], `obligation id '${o.id}' is also defined in ${owner} (test tags [ob:${o.id}] would be ambiguous)`);
      else obligationOwners.set(o.id, c.file);
    });
  }
}

function checkLocalIds(c: LoadedContract, emit: Emit): void {
  const sections = [
    ['proof_obligations', c.doc.proof_obligations],
    ['falsification_tests', c.doc.falsification_tests],
    ['proofs', c.doc.proofs ?? []],
  ] as const;
  for (const [key, items] of sections) {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (seen.has(item.id)) emit('PV004', c, [key, i, 'id'], `duplicate ${key} id '${item.id}'`);
      seen.add(item.id);
    });
  }
}

function checkEquations(c: LoadedContract, emit: Emit): void {
  const names = Object.keys(c.doc.equations);
  const used = new Set<string>();
  c.doc.proof_obligations.forEach((o, i) => {
    if (o.equation !== undefined) {
      if (!names.includes(o.equation)) emit('PV012', c, ['proof_obligations', i, 'equation'], `obligation '${o.id}' names equation '${o.equation}', which ${c.id} does not define (has: ${names.join(', ') || 'none'})`);
      used.add(o.equation);
    } else if (names.length > 1) {
      emit('PV013', c, ['proof_obligations', i], `obligation '${o.id}' does not say which of the ${names.length} equations it belongs to (add equation: <name>)`);
    } else if (names[0] !== undefined) {
      used.add(names[0]);
    }
  });
  for (const n of names) if (!used.has(n) && names.length > 0) emit('PV015', c, ['equations', n], `equation '${n}' has no proof obligation`);
}

function checkProofs(c: LoadedContract, root: string, emit: Emit): void {
  const obligations = new Set(c.doc.proof_obligations.map((o) => o.id));
  (c.doc.proofs ?? []).forEach((p, i) => {
    if (!obligations.has(p.obligation)) emit('PV005', c, ['proofs', i, 'obligation'], `proof '${p.id}' names obligation '${p.obligation}', which ${c.id} does not define`);
    const path = join(root, p.harness);
    if (!existsSync(path)) emit('PV006', c, ['proofs', i, 'harness'], `proof '${p.id}': harness ${p.harness} does not exist`);
    else if (!readFileSync(path, 'utf8').includes(`'${p.id}'`)) emit('PV006', c, ['proofs', i, 'harness'], `proof '${p.id}': harness ${p.harness} does not define a proof with this id`);
  });
}

function checkTests(c: LoadedContract, root: string, cache: Map<string, Set<string> | undefined>, emit: Emit): void {
  const obligations = c.doc.proof_obligations.map((o) => o.id);
  const tagged = new Set<string>();
  c.doc.falsification_tests.forEach((t, i) => {
    for (const ob of t.obligations ?? []) {
      if (!obligations.includes(ob)) emit('PV005', c, ['falsification_tests', i, 'obligations'], `falsification test '${t.id}' names obligation '${ob}', which ${c.id} does not define`);
      else tagged.add(ob);
    }
    const tags = tagsInFile(root, t.test, cache);
    if (!tags) {
      emit('PV009', c, ['falsification_tests', i, 'test'], `falsification test '${t.id}': ${t.test} does not exist`);
      return;
    }
    const mine = obligations.filter((o) => tags.has(o));
    if (mine.length === 0) emit('PV010', c, ['falsification_tests', i, 'test'], `falsification test '${t.id}': ${t.test} tags none of ${c.id}'s obligations ([ob:<id>] in a test name)`);
    for (const o of mine) tagged.add(o);
  });
  const proved = new Set((c.doc.proofs ?? []).map((p) => p.obligation));
  c.doc.proof_obligations.forEach((o, i) => {
    if (tagged.has(o.id)) return;
    if (proved.has(o.id)) emit('PV008', c, ['proof_obligations', i, 'id'], `obligation '${o.id}' has a z3 proof but no tagged test, so ${c.id} cannot reach L2`);
    else emit('PV007', c, ['proof_obligations', i, 'id'], `obligation '${o.id}' has no test tagged [ob:${o.id}] in a listed test file and no z3 proof`);
  });
}

function checkTolerances(c: LoadedContract, emit: Emit): void {
  c.doc.proof_obligations.forEach((o, i) => {
    if (o.tolerance !== undefined || !isNumericObligation(o)) return;
    const declared = o.numeric === true;
    emit('PV011', c, ['proof_obligations', i, 'id'], `obligation '${o.id}' is ${declared ? 'declared numeric' : 'about floating-point values'} but has no tolerance`, declared ? 'error' : 'warning');
  });
}

function unknownKeys(value: unknown, known: readonly string[]): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.keys(value).filter((k) => !known.includes(k));
}

function checkUnknownKeys(c: LoadedContract, emit: Emit): void {
  const raw = c.raw as Record<string, unknown>;
  const report = (path: (string | number)[], value: unknown, known: readonly string[]): void => {
    for (const k of unknownKeys(value, known)) emit('PV014', c, [...path, k], `unknown key '${[...path, k].join('.')}'`);
  };
  report([], raw, KNOWN_KEYS.root);
  report(['metadata'], raw['metadata'], KNOWN_KEYS.metadata);
  for (const [name, eq] of Object.entries((raw['equations'] ?? {}) as Record<string, unknown>)) report(['equations', name], eq, KNOWN_KEYS.equation);
  const lists = [['proof_obligations', KNOWN_KEYS.obligation], ['falsification_tests', KNOWN_KEYS.falsification_test], ['proofs', KNOWN_KEYS.proof]] as const;
  for (const [key, known] of lists) {
    const items = raw[key];
    if (Array.isArray(items)) items.forEach((item: unknown, i) => report([key, i], item, known));
  }
}
