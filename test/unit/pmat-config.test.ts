import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../gates/lib/config.js';
import { CHECKS, runCompliance, UnknownCheckError } from '../../gates/registry.js';

const parse = (raw: unknown) => parseConfig(raw, CHECKS);
const error = (raw: unknown): string => {
  try {
    parse(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('pmat.config.json validation', () => {
  it('an empty config gives the defaults', () => {
    const c = parse({});
    expect(c.paths.source).toEqual(['src/**']);
    expect(c.suppressions).toEqual([]);
    expect(c.reports.coverageSummary).toBe('coverage/coverage-summary.json');
  });

  it('rejects unknown keys at every level, naming the field', () => {
    expect(error({ treshold: 1 })).toBe('pmat.config.json: (root): Unrecognized key: "treshold"');
    expect(error({ paths: { sources: ['src'] } })).toMatch(/^pmat\.config\.json: paths: Unrecognized key: "sources"$/);
    expect(error({ checks: { 'CB-009': { enable: false } } })).toMatch(/^pmat\.config\.json: checks\.CB-009: Unrecognized key: "enable"$/);
  });

  it('rejects unknown check ids and unknown or mistyped thresholds', () => {
    expect(error({ checks: { 'CB-999': {} } })).toBe('pmat.config.json: checks.CB-999: unknown check id');
    expect(error({ checks: { 'CB-009': { thresholds: { max: 3 } } } })).toBe('pmat.config.json: checks.CB-009.thresholds: Unrecognized key: "max"');
    expect(error({ checks: { 'CB-009': { thresholds: { warn: 'many' } } } })).toMatch(/^pmat\.config\.json: checks\.CB-009\.thresholds\.warn: Invalid input: expected number/);
  });

  it('accepts known thresholds and severities', () => {
    const c = parse({ checks: { 'CB-009': { thresholds: { warn: 300 }, severity: 'warning', enabled: true } } });
    expect(c.checks['CB-009']).toEqual({ thresholds: { warn: 300 }, severity: 'warning', enabled: true });
    const check = CHECKS.find((x) => x.id === 'CB-009');
    expect(check?.thresholds({ warn: 300 })).toEqual({ warn: 300, fail: 600, includeTests: true });
  });

  it('suppressions need an id, a reason and a real ISO date', () => {
    const ok = { id: 'CB-016', path: 'src/x.ts', reason: 'legacy', expires: '2030-01-31' };
    expect(parse({ suppressions: [ok] }).suppressions).toEqual([ok]);
    expect(error({ suppressions: [{ ...ok, expires: '2030-02-31' }] })).toMatch(/^pmat\.config\.json: suppressions\.0\.expires: Invalid ISO date/);
    expect(error({ suppressions: [{ ...ok, reason: '' }] })).toMatch(/^pmat\.config\.json: suppressions\.0\.reason: /);
    expect(error({ suppressions: [{ ...ok, id: 'CB-998' }] })).toBe("pmat.config.json: suppressions.0.id: unknown check id 'CB-998'");
    expect(error({ suppressions: [{ ...ok, id: 'no-any' }] })).toMatch(/expected a check id like CB-017/);
  });

  it("this repository's own pmat.config.json is valid", async () => {
    const { loadConfig } = await import('../../gates/lib/config.js');
    expect(() => loadConfig(process.cwd(), CHECKS)).not.toThrow();
  });

  it('--only with an unknown check id is refused', async () => {
    await expect(runCompliance(process.cwd(), { only: ['CB-999'] })).rejects.toThrow(UnknownCheckError);
  });
});
