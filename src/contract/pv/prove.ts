import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoadedContract } from '../yaml/load.js';
import type { ProofResult } from './facts.js';
import type { ProofHarness } from './harness.js';
import { openZ3, type Z3Handle } from './z3-session.js';

export const DEFAULT_TIMEOUT_S = 20;

/** The target or planted bug names nothing that exists (a usage error, not a failed proof). */
export class UnknownProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownProofError';
  }
}

export interface DiscoveredProof {
  harness: ProofHarness;
  /** Harness file relative to the project root, as contract YAMLs name it (`proofs/x.ts`). */
  file: string;
}

export interface ProveOptions {
  root: string;
  /** A contract id, obligation id or proof id; all proofs when absent. */
  target?: string | undefined;
  /** Overrides every bounded proof's bound. */
  bound?: number | undefined;
  /** Per-query timeout in seconds. */
  timeoutS?: number | undefined;
  /** Inject a planted bug (only with a target that selects proofs knowing it). */
  plant?: string | undefined;
  /** Contracts, for YAML-declared bounds and harness files outside proofs/. */
  contracts?: readonly LoadedContract[];
  /** Called after each proof (progress). */
  onResult?: (r: ProofResult) => void;
}

/** Under tsx the harness sources run as they are; a compiled install imports dist/<harness>.js. */
function modulePath(root: string, file: string): string {
  const fromTs = import.meta.url.endsWith('.ts');
  if (fromTs || !file.endsWith('.ts')) return join(root, file);
  const compiled = join(root, 'dist', file.replace(/\.ts$/, '.js'));
  return existsSync(compiled) ? compiled : join(root, file);
}

function isHarness(v: unknown): v is ProofHarness {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  return typeof h['id'] === 'string' && typeof h['contract'] === 'string' && typeof h['obligation'] === 'string' && typeof h['run'] === 'function';
}

/** Harness files: every `proofs/*.ts` plus those YAML `proofs` entries name elsewhere. */
export function harnessFiles(root: string, contracts: readonly LoadedContract[] = []): string[] {
  const dir = join(root, 'proofs');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => `proofs/${f}`) : [];
  for (const c of contracts) for (const p of c.doc.proofs ?? []) if (!files.includes(p.harness)) files.push(p.harness);
  return files.sort();
}

/** Imports every harness module and collects its `proofs` export. */
export async function discoverProofs(root: string, contracts: readonly LoadedContract[] = []): Promise<DiscoveredProof[]> {
  const found: DiscoveredProof[] = [];
  for (const file of harnessFiles(root, contracts)) {
    const mod = (await import(pathToFileURL(modulePath(root, file)).href)) as { proofs?: unknown };
    if (!Array.isArray(mod.proofs)) continue;
    for (const h of mod.proofs) if (isHarness(h)) found.push({ harness: h, file });
  }
  const seen = new Set<string>();
  for (const p of found) {
    if (seen.has(p.harness.id)) throw new Error(`proof id '${p.harness.id}' is defined twice (${p.file})`);
    seen.add(p.harness.id);
  }
  return found;
}

export function selectProofs(all: readonly DiscoveredProof[], target: string | undefined): DiscoveredProof[] {
  if (target === undefined) return [...all];
  return all.filter((p) => p.harness.id === target || p.harness.contract === target || p.harness.obligation === target);
}

/** SHA-256 over the harness file and the shared helpers in its folder's lib/ (a change to either makes old results stale). */
export function harnessDigest(root: string, file: string): string {
  const h = createHash('sha256');
  const path = join(root, file);
  if (!existsSync(path)) return '';
  h.update(readFileSync(path));
  const lib = join(dirname(path), 'lib');
  if (existsSync(lib)) for (const f of readdirSync(lib).sort()) h.update(f).update(readFileSync(join(lib, f)));
  return h.digest('hex');
}

function declaredBound(contracts: readonly LoadedContract[], id: string): number | null | undefined {
  for (const c of contracts) for (const p of c.doc.proofs ?? []) if (p.id === id) return p.bound;
  return undefined;
}

/** Runs one discovered proof on an open z3 and returns its result record (never throws: errors become status 'error'). */
export async function proveOne(z3: Z3Handle, p: DiscoveredProof, opts: ProveOptions): Promise<ProofResult> {
  const h = p.harness;
  const timeoutS = opts.timeoutS ?? DEFAULT_TIMEOUT_S;
  const bound = h.bound === null ? null : (opts.bound ?? declaredBound(opts.contracts ?? [], h.id) ?? h.bound);
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  const base = { id: h.id, contract: h.contract, obligation: h.obligation, harness: p.file, harness_sha256: harnessDigest(opts.root, p.file), bound, timeout_s: timeoutS, time: new Date().toISOString() };
  try {
    const r = await h.run(z3.session(timeoutS * 1000), { bound: bound ?? 0, timeoutMs: timeoutS * 1000, plant: opts.plant });
    const cpu = process.cpuUsage(cpu0);
    return { ...base, status: r.status, wall_ms: Date.now() - started, cpu_ms: Math.round((cpu.user + cpu.system) / 1000), queries: r.queries, ...(r.counterexample ? { counterexample: r.counterexample } : {}), ...(r.reason ? { reason: r.reason } : {}) };
  } catch (err) {
    return { ...base, status: 'error', wall_ms: Date.now() - started, cpu_ms: 0, queries: 0, reason: err instanceof Error ? err.message : String(err) };
  }
}

export interface ProveRun {
  results: ProofResult[];
  z3Version: string;
}

/**
 * Runs the selected proofs one after another (z3 is single-threaded here) and stops z3's worker threads
 * at the end, so the process can exit. Throws for a target that selects nothing or an unknown plant.
 */
export async function runProofs(opts: ProveOptions): Promise<ProveRun> {
  const all = await discoverProofs(opts.root, opts.contracts ?? []);
  const chosen = selectProofs(all, opts.target);
  if (chosen.length === 0) throw new UnknownProofError(opts.target === undefined ? `no proofs found under ${relative(process.cwd(), join(opts.root, 'proofs')) || 'proofs'}/` : `no proof, contract or obligation named '${opts.target}'`);
  if (opts.plant !== undefined) {
    const plant = opts.plant;
    const knowing = chosen.filter((p) => Object.hasOwn(p.harness.plants, plant));
    if (knowing.length === 0) {
      const known = [...new Set(chosen.flatMap((p) => Object.keys(p.harness.plants)))];
      throw new UnknownProofError(`no selected proof knows the planted bug '${plant}' (known: ${known.join(', ') || 'none'})`);
    }
    chosen.splice(0, chosen.length, ...knowing);
  }
  const z3 = await openZ3();
  try {
    const results: ProofResult[] = [];
    for (const p of chosen) {
      const r = await proveOne(z3, p, opts);
      results.push(r);
      opts.onResult?.(r);
    }
    return { results, z3Version: z3.version };
  } finally {
    await z3.close();
  }
}
