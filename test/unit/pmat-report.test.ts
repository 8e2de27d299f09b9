import { describe, expect, it } from 'vitest';
import { formatJson, formatSarif, formatText } from '../../gates/lib/report.js';
import { exitCode, summarise, type CheckResult, type ComplianceReport } from '../../gates/lib/runner.js';

const result = (id: string, status: CheckResult['status'], findings: CheckResult['findings'] = []): CheckResult => ({
  id,
  name: `check-${id}`,
  description: `describes ${id}`,
  status,
  severity: 'error',
  summary: `${status} summary`,
  message: `${status} message`,
  findings,
  suppressed: 0,
  durationMs: 5,
});

const report = (checks: CheckResult[], strict = false): ComplianceReport => {
  const summary = summarise(checks);
  return { root: '/p', strict, checks, summary, is_compliant: summary.fail === 0 && (!strict || summary.warn === 0), durationMs: 1234 };
};

const mixed = report([
  result('CB-001', 'pass'),
  result('CB-002', 'warn', [{ level: 'warn', file: 'src/a.ts', line: 3, message: 'long' }]),
  result('CB-003', 'fail', [{ level: 'fail', message: 'tests failed' }]),
  result('CB-004', 'skip'),
]);

describe('exit policy (pmat): 0 clean, 1 any failure, 2 with --strict and only warnings', () => {
  it('maps summaries to exit codes', () => {
    expect(exitCode(report([result('a', 'pass'), result('b', 'skip')]), true)).toBe(0);
    expect(exitCode(report([result('a', 'warn')]), false)).toBe(0);
    expect(exitCode(report([result('a', 'warn')]), true)).toBe(2);
    expect(exitCode(report([result('a', 'warn'), result('b', 'fail')]), true)).toBe(1);
    expect(exitCode(report([result('a', 'fail')]), false)).toBe(1);
  });
});

describe('report formats', () => {
  it('text: one ✓ ⚠ ✗ - line per check, findings below, summary and status', () => {
    const lines = formatText(mixed).split('\n');
    expect(lines).toContain('✓ CB-001 check-CB-001: pass message');
    expect(lines).toContain('⚠ CB-002 check-CB-002: warn summary');
    expect(lines).toContain('    ⚠ src/a.ts:3: long');
    expect(lines).toContain('✗ CB-003 check-CB-003: fail summary');
    expect(lines).toContain('    ✗ tests failed');
    expect(lines).toContain('- CB-004 check-CB-004: skip message');
    expect(lines).toContain('Summary: 4 checks: 1 pass, 1 warn, 1 fail, 1 skip (1.2 s)');
    expect(lines).toContain('Status: NON-COMPLIANT');
    expect(formatText(report([result('CB-001', 'pass')]))).toContain('Status: COMPLIANT');
  });

  it('text --failures-only lists only warnings and failures', () => {
    const text = formatText(mixed, { failuresOnly: true });
    expect(text).not.toContain('CB-001');
    expect(text).not.toContain('CB-004');
    expect(text).toContain('CB-002');
    expect(text).toContain('CB-003');
  });

  it('JSON: {is_compliant, summary, checks:[{id,name,status,message,severity}]}', () => {
    const doc = JSON.parse(formatJson(mixed)) as { is_compliant: boolean; summary: unknown; checks: Record<string, unknown>[] };
    expect(doc.is_compliant).toBe(false);
    expect(doc.summary).toEqual({ total: 4, pass: 1, warn: 1, fail: 1, skip: 1 });
    expect(doc.checks[1]).toMatchObject({ id: 'CB-002', name: 'check-CB-002', status: 'warn', message: 'warn message', severity: 'error' });
    expect(doc.checks).toHaveLength(4);
  });

  it('SARIF 2.1.0: a rule per check, a located result per finding of failing and warning checks', () => {
    const doc = JSON.parse(formatSarif(mixed, '9.9.9')) as {
      version: string;
      $schema: string;
      runs: { tool: { driver: { name: string; version: string; rules: { id: string }[] } }; results: Record<string, unknown>[] }[];
    };
    expect(doc.version).toBe('2.1.0');
    expect(doc.$schema).toContain('sarif-2.1.0');
    const run = doc.runs[0];
    expect(run?.tool.driver).toMatchObject({ name: 'pmat', version: '9.9.9' });
    expect(run?.tool.driver.rules.map((r) => r.id)).toEqual(['CB-001', 'CB-002', 'CB-003', 'CB-004']);
    expect(run?.results).toEqual([
      {
        ruleId: 'CB-002',
        level: 'warning',
        message: { text: 'long' },
        locations: [{ physicalLocation: { artifactLocation: { uri: 'src/a.ts', uriBaseId: '%SRCROOT%' }, region: { startLine: 3 } } }],
      },
      { ruleId: 'CB-003', level: 'error', message: { text: 'tests failed' } },
    ]);
  });
});
