import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';

/** A malformed facts file: one line naming the file, the field and what was expected. */
export class PvInputError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: ${field}: ${message}`);
    this.name = 'PvInputError';
  }
}

export const BINDING_FILE = 'contracts/binding.json';
export const TEST_RESULTS_FILE = '.pv/test-results.json';
export const PROOF_RESULTS_FILE = '.pv/proof-results.json';

const BindingSchema = z.object({
  contracts: z.array(z.object({ contract: z.string(), equation: z.string(), file: z.string(), symbol: z.string(), obligations: z.array(z.string()).default([]) })),
  unbound: z.array(z.string()).default([]),
  exported_ops_and_kernels: z.number().int().nonnegative(),
});
export type BindingRegistry = z.infer<typeof BindingSchema>;

const TestResultsSchema = z.object({
  time: z.string(),
  results: z.array(z.object({ obligation: z.string(), test: z.string(), file: z.string(), state: z.string() })),
});
export type TestResults = z.infer<typeof TestResultsSchema>;

const ProofResultSchema = z.object({
  id: z.string(),
  contract: z.string(),
  obligation: z.string(),
  harness: z.string(),
  harness_sha256: z.string(),
  status: z.enum(['proved', 'refuted', 'unknown', 'error']),
  bound: z.number().int().nullable(),
  timeout_s: z.number(),
  wall_ms: z.number(),
  cpu_ms: z.number(),
  queries: z.number().int(),
  counterexample: z.record(z.string(), z.string()).optional(),
  reason: z.string().optional(),
  time: z.string(),
});
export type ProofResult = z.infer<typeof ProofResultSchema>;

const ProofResultsSchema = z.object({ version: z.literal(1), time: z.string(), z3: z.string(), results: z.array(ProofResultSchema) });
export type ProofResults = z.infer<typeof ProofResultsSchema>;

function readJson<T>(root: string, file: string, schema: z.ZodType<T>): T | undefined {
  const path = join(root, file);
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new PvInputError(file, '(document)', `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new PvInputError(file, issue?.path.map(String).join('.') || '(document)', issue?.message ?? 'invalid');
  }
  return r.data;
}

/** contracts/binding.json, or an empty registry when the binder has not run. */
export function readBindings(root: string): BindingRegistry & { present: boolean } {
  const b = readJson(root, BINDING_FILE, BindingSchema);
  return b ? { ...b, present: true } : { contracts: [], unbound: [], exported_ops_and_kernels: 0, present: false };
}

/** .pv/test-results.json with test files made relative to `root`. */
export function readTestResults(root: string): TestResults | undefined {
  const t = readJson(root, TEST_RESULTS_FILE, TestResultsSchema);
  if (!t) return undefined;
  return { ...t, results: t.results.map((r) => ({ ...r, file: isAbsolute(r.file) ? relative(root, r.file) : r.file })) };
}

export function readProofResults(root: string): ProofResults | undefined {
  return readJson(root, PROOF_RESULTS_FILE, ProofResultsSchema);
}

/** Merges `results` into .pv/proof-results.json (same proof id replaced), written through a temp file + rename. */
export function recordProofResults(root: string, results: readonly ProofResult[], z3Version: string): ProofResults {
  const old = readProofResults(root)?.results ?? [];
  const ids = new Set(results.map((r) => r.id));
  const merged = [...old.filter((r) => !ids.has(r.id)), ...results].sort((a, b) => a.id.localeCompare(b.id));
  const doc: ProofResults = { version: 1, time: new Date().toISOString(), z3: z3Version, results: merged };
  const path = join(root, PROOF_RESULTS_FILE);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 1)}\n`);
  renameSync(tmp, path);
  return doc;
}
