import { ts } from 'ts-morph';
import { lineOf } from './ast.js';

const IDENT = -1;
const LITERAL = -2;
/** Kept names get ids above every SyntaxKind. */
const NAME_BASE = 100_000;
/** Interned kept names shared by every call, so token ids agree across files. */
const INTERNED = new Map<string, number>();

interface Token {
  kind: number;
  line: number;
}

function isLiteralToken(kind: ts.SyntaxKind): boolean {
  return (kind >= ts.SyntaxKind.FirstLiteralToken && kind <= ts.SyntaxKind.LastTemplateToken) || kind === ts.SyntaxKind.StringLiteral;
}

/** A literal data table: literals, or arrays/objects made only of literals (a dtype table, a lookup grid). */
function isData(n: ts.Node): boolean {
  if (ts.isLiteralExpression(n) || n.kind === ts.SyntaxKind.TrueKeyword || n.kind === ts.SyntaxKind.FalseKeyword) return true;
  if (ts.isPrefixUnaryExpression(n)) return ts.isNumericLiteral(n.operand);
  if (ts.isAsExpression(n)) return isData(n.expression);
  if (ts.isArrayLiteralExpression(n)) return n.elements.length > 0 && n.elements.every(isData);
  if (ts.isObjectLiteralExpression(n)) return n.properties.length > 0 && n.properties.every((p) => ts.isPropertyAssignment(p) && isData(p.initializer));
  return false;
}

function isDataTable(n: ts.Node): boolean {
  return (ts.isArrayLiteralExpression(n) || ts.isObjectLiteralExpression(n)) && isData(n);
}

/**
 * Identifiers that name locals (variables, parameters, declarations) are normalised; property names
 * and called names are kept, so `w.setUint8(o, v)` and `w.setInt8(o, v)` stay different.
 */
function keepsName(n: ts.Identifier | ts.PrivateIdentifier): boolean {
  const p = n.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === n) return true;
  if (ts.isCallExpression(p) && p.expression === n) return true;
  return (ts.isPropertyAssignment(p) || ts.isMethodDeclaration(p) || ts.isPropertyDeclaration(p)) && p.name === n;
}

/** Declarations whose normalised token shapes repeat without being duplicated logic. */
function skipped(n: ts.Node): boolean {
  return (
    ts.isImportDeclaration(n) ||
    (ts.isExportDeclaration(n) && n.moduleSpecifier !== undefined) ||
    ts.isInterfaceDeclaration(n) ||
    ts.isTypeAliasDeclaration(n) ||
    isDataTable(n) ||
    (n.kind >= ts.SyntaxKind.FirstJSDocNode && n.kind <= ts.SyntaxKind.LastJSDocNode)
  );
}

/**
 * The file's tokens with local names and literals normalised (so renamed copies still match), leaving
 * out imports, type declarations and literal data tables.
 */
export function normalisedTokens(sf: ts.SourceFile): Token[] {
  const names = INTERNED;
  const out: Token[] = [];
  const nameId = (text: string): number => {
    let id = names.get(text);
    if (id === undefined) {
      id = NAME_BASE + names.size;
      names.set(text, id);
    }
    return id;
  };
  const visit = (n: ts.Node): void => {
    if (skipped(n)) return;
    const kids = n.getChildren(sf);
    if (kids.length > 0) {
      for (const k of kids) visit(k);
      return;
    }
    if (n.kind === ts.SyntaxKind.EndOfFileToken) return;
    let kind: number = n.kind;
    if (ts.isIdentifier(n) || ts.isPrivateIdentifier(n)) kind = keepsName(n) ? nameId(n.text) : IDENT;
    else if (isLiteralToken(n.kind)) kind = LITERAL;
    out.push({ kind, line: lineOf(sf, n.getStart(sf)) });
  };
  visit(sf);
  return out;
}

export interface Clone {
  file: string;
  startLine: number;
  endLine: number;
  tokens: number;
  otherFile: string;
  otherLine: number;
}

export interface DuplicationReport {
  totalTokens: number;
  duplicatedTokens: number;
  perFile: Map<string, { total: number; duplicated: number }>;
  clones: Clone[];
}

const B1 = 1_000_003;
const B2 = 918_273_649;

function pow32(base: number, exp: number): number {
  let r = 1;
  for (let i = 0; i < exp; i++) r = Math.imul(r, base);
  return r;
}

/** Rolling hashes of every window of `w` token kinds, as string keys (two 32-bit hashes). */
function windowKeys(tokens: readonly Token[], w: number): string[] {
  const keys: string[] = [];
  if (tokens.length < w) return keys;
  const p1 = pow32(B1, w - 1);
  const p2 = pow32(B2, w - 1);
  let h1 = 0;
  let h2 = 0;
  for (let i = 0; i < tokens.length; i++) {
    const k = tokens[i]?.kind ?? 0;
    if (i >= w) {
      const old = tokens[i - w]?.kind ?? 0;
      h1 = (h1 - Math.imul(old, p1)) | 0;
      h2 = (h2 - Math.imul(old, p2)) | 0;
    }
    h1 = (Math.imul(h1, B1) + k) | 0;
    h2 = (Math.imul(h2, B2) + k) | 0;
    if (i >= w - 1) keys.push(`${h1 >>> 0}:${h2 >>> 0}`);
  }
  return keys;
}

function sameWindow(a: readonly Token[], i: number, b: readonly Token[], j: number, w: number): boolean {
  for (let k = 0; k < w; k++) if (a[i + k]?.kind !== b[j + k]?.kind) return false;
  return true;
}

interface Site {
  file: string;
  index: number;
}

/**
 * Token-window duplication: every window of `minTokens` normalised tokens that occurs at two or more
 * places (not overlapping itself) marks its tokens duplicated. Reports the duplicated share and the
 * clone ranges (one entry per duplicated run of tokens, with one other place it occurs).
 */
export function findDuplication(files: ReadonlyMap<string, readonly Token[]>, minTokens: number): DuplicationReport {
  const sites = new Map<string, Site[]>();
  for (const [file, tokens] of files) {
    windowKeys(tokens, minTokens).forEach((key, index) => {
      const list = sites.get(key);
      if (list) list.push({ file, index });
      else sites.set(key, [{ file, index }]);
    });
  }
  const partner = new Map<string, (Site | undefined)[]>();
  for (const [file, tokens] of files) partner.set(file, new Array<Site | undefined>(tokens.length).fill(undefined));
  for (const list of sites.values()) if (list.length > 1) markGroup(list, files, partner, minTokens);
  return summarise(files, partner);
}

function markGroup(list: readonly Site[], files: ReadonlyMap<string, readonly Token[]>, partner: Map<string, (Site | undefined)[]>, w: number): void {
  for (const a of list) {
    const other = list.find(
      (b) =>
        (b.file !== a.file || Math.abs(b.index - a.index) >= w) &&
        sameWindow(files.get(a.file) ?? [], a.index, files.get(b.file) ?? [], b.index, w),
    );
    if (!other) continue;
    const marks = partner.get(a.file) ?? [];
    for (let k = 0; k < w; k++) marks[a.index + k] ??= { file: other.file, index: other.index + k };
  }
}

function summarise(files: ReadonlyMap<string, readonly Token[]>, partner: Map<string, (Site | undefined)[]>): DuplicationReport {
  const report: DuplicationReport = { totalTokens: 0, duplicatedTokens: 0, perFile: new Map(), clones: [] };
  for (const [file, tokens] of files) {
    const marks = partner.get(file) ?? [];
    let dup = 0;
    let runStart = -1;
    for (let i = 0; i <= tokens.length; i++) {
      const m = i < tokens.length ? marks[i] : undefined;
      if (m) dup++;
      if (m && runStart < 0) runStart = i;
      if (!m && runStart >= 0) {
        report.clones.push(cloneOf(file, tokens, runStart, i - 1, marks[runStart], files));
        runStart = -1;
      }
    }
    report.totalTokens += tokens.length;
    report.duplicatedTokens += dup;
    report.perFile.set(file, { total: tokens.length, duplicated: dup });
  }
  report.clones.sort((a, b) => b.tokens - a.tokens);
  return report;
}

function cloneOf(file: string, tokens: readonly Token[], from: number, to: number, other: Site | undefined, files: ReadonlyMap<string, readonly Token[]>): Clone {
  const otherFile = other?.file ?? file;
  return {
    file,
    startLine: tokens[from]?.line ?? 0,
    endLine: tokens[to]?.line ?? 0,
    tokens: to - from + 1,
    otherFile,
    otherLine: files.get(otherFile)?.[other?.index ?? 0]?.line ?? 0,
  };
}
