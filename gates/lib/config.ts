import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Check, Severity } from './types.js';

const CONFIG_FILE = 'pmat.config.json';

const globs = z.array(z.string().min(1));

const PathsSchema = z.strictObject({
  /** Production code: the size, complexity and hygiene checks apply here. */
  source: globs.default(['src/**']),
  /** Test code. */
  tests: globs.default(['test/**', 'tests/**', '**/*.test.ts', '**/*.spec.ts']),
  /** Library code (no console.log, no sync child_process): source minus `cli`. */
  library: globs.default(['src/**']),
  /** Command-line front ends, allowed to print. */
  cli: globs.default(['src/cli/**', 'src/bin/**']),
  /** Files whose exports are public API (never "unused"). */
  entryPoints: globs.default(['src/cli/**', 'src/index.ts', 'src/main.ts']),
  /** Never analysed. */
  exclude: globs.default(['test/fixtures/**', 'node_modules/**', 'dist/**', 'coverage/**']),
});

const CheckConfigSchema = z.strictObject({
  enabled: z.boolean().optional(),
  severity: z.enum(['error', 'warning']).optional(),
  thresholds: z.record(z.string(), z.unknown()).optional(),
});

const SuppressionSchema = z.strictObject({
  id: z.string().regex(/^CB-\d{3}$/, 'expected a check id like CB-017'),
  /** Glob of the files whose findings are suppressed; without it the whole check is suppressed. */
  path: z.string().min(1).optional(),
  reason: z.string().min(1),
  expires: z.iso.date(),
});

const LayerRuleSchema = z.strictObject({
  from: z.string().min(1),
  disallow: globs.min(1),
  reason: z.string().optional(),
});

const ReportsSchema = z.strictObject({
  /** A vitest JSON report written by the test run (`--reporter=json --outputFile=...`). */
  vitestJson: z.string().optional(),
  coverageSummary: z.string().default('coverage/coverage-summary.json'),
  /** Reports older than this, or older than any source or test file, are not reused. */
  maxAgeHours: z.number().positive().default(24),
});

export const ConfigSchema = z.strictObject({
  paths: PathsSchema.prefault({}),
  checks: z.record(z.string(), CheckConfigSchema).default({}),
  suppressions: z.array(SuppressionSchema).default([]),
  reports: ReportsSchema.prefault({}),
  /** Import rules: files matching `from` may not import files matching any `disallow` glob. */
  layers: z.array(LayerRuleSchema).default([]),
});

export type PmatConfig = z.output<typeof ConfigSchema>;
export type Suppression = PmatConfig['suppressions'][number];

export class ConfigError extends Error {
  constructor(file: string, field: string, message: string) {
    super(`${file}: ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates `pmat.config.json` (absent file = defaults); throws ConfigError with one line. */
export function loadConfig(root: string, checks: readonly Check[], file = join(root, CONFIG_FILE)): PmatConfig {
  let raw: unknown = {};
  if (existsSync(file)) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(basename(file), '(file)', `not valid JSON (${(e as Error).message.split('\n')[0] ?? ''})`);
    }
  }
  return parseConfig(raw, checks, basename(file));
}

export function parseConfig(raw: unknown, checks: readonly Check[], name = CONFIG_FILE): PmatConfig {
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConfigError(name, issue?.path.join('.') || '(root)', issue?.message ?? 'invalid');
  }
  const byId = new Map(checks.map((c) => [c.id, c]));
  for (const [id, cc] of Object.entries(r.data.checks)) {
    const check = byId.get(id);
    if (!check) throw new ConfigError(name, `checks.${id}`, 'unknown check id');
    const err = check.validateThresholds(cc.thresholds);
    if (err) throw new ConfigError(name, `checks.${id}.thresholds${err.field ? `.${err.field}` : ''}`, err.message);
  }
  r.data.suppressions.forEach((s, i) => {
    if (!byId.has(s.id)) throw new ConfigError(name, `suppressions.${i}.id`, `unknown check id '${s.id}'`);
  });
  return r.data;
}

export function checkEnabled(config: PmatConfig, id: string): boolean {
  return config.checks[id]?.enabled ?? true;
}

export function checkSeverity(config: PmatConfig, check: Check): Severity {
  return config.checks[check.id]?.severity ?? check.severity;
}
