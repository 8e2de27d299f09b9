import { formatFinding, type CheckResult, type ComplianceReport } from './runner.js';
import type { Status } from './types.js';

export interface FormatOptions {
  failuresOnly?: boolean;
  /** Findings listed per check in the text report (all of them in JSON and SARIF). */
  maxFindings?: number;
}

const SYMBOL: Record<Status, string> = { pass: '✓', warn: '⚠', fail: '✗', skip: '-' };

function shown(report: ComplianceReport, opts: FormatOptions): CheckResult[] {
  return opts.failuresOnly ? report.checks.filter((c) => c.status === 'warn' || c.status === 'fail') : report.checks;
}

/** pmat-style text: one ✓ ⚠ ✗ - line per check, findings indented below, then the status. */
export function formatText(report: ComplianceReport, opts: FormatOptions = {}): string {
  const max = opts.maxFindings ?? 10;
  const lines = [`pmat comply check: ${report.root}${report.strict ? ' (strict)' : ''}`, ''];
  for (const c of shown(report, opts)) {
    const listed = (c.status === 'warn' || c.status === 'fail') && c.findings.length > 0;
    lines.push(`${SYMBOL[c.status]} ${c.id} ${c.name}: ${listed ? c.summary : c.message}`);
    if (!listed) continue;
    for (const f of c.findings.slice(0, max)) lines.push(`    ${f.level === 'fail' ? '✗' : '⚠'} ${formatFinding(f)}`);
    if (c.findings.length > max) lines.push(`    … ${c.findings.length - max} more`);
  }
  const s = report.summary;
  lines.push('', `Summary: ${s.total} checks: ${s.pass} pass, ${s.warn} warn, ${s.fail} fail, ${s.skip} skip (${(report.durationMs / 1000).toFixed(1)} s)`);
  lines.push(`Status: ${report.is_compliant ? 'COMPLIANT' : 'NON-COMPLIANT'}`);
  return `${lines.join('\n')}\n`;
}

export function formatJson(report: ComplianceReport, opts: FormatOptions = {}): string {
  const doc = {
    is_compliant: report.is_compliant,
    strict: report.strict,
    summary: report.summary,
    duration_ms: report.durationMs,
    checks: shown(report, opts).map((c) => ({
      id: c.id,
      name: c.name,
      status: c.status,
      message: c.message,
      severity: c.severity,
      duration_ms: c.durationMs,
      suppressed: c.suppressed,
      findings: c.findings,
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

function sarifResults(c: CheckResult): unknown[] {
  if (c.status !== 'warn' && c.status !== 'fail') return [];
  const level = (l: 'warn' | 'fail'): string => (l === 'fail' ? 'error' : 'warning');
  if (c.findings.length === 0) return [{ ruleId: c.id, level: level(c.status), message: { text: c.message } }];
  return c.findings.map((f) => ({
    ruleId: c.id,
    level: level(f.level),
    message: { text: f.message },
    ...(f.file
      ? { locations: [{ physicalLocation: { artifactLocation: { uri: f.file, uriBaseId: '%SRCROOT%' }, ...(f.line ? { region: { startLine: f.line } } : {}) } }] }
      : {}),
  }));
}

/** SARIF 2.1.0: one rule per check, one result per finding of a warning or failing check. */
export function formatSarif(report: ComplianceReport, version: string, opts: FormatOptions = {}): string {
  const rules = report.checks.map((c) => ({
    id: c.id,
    name: c.name,
    shortDescription: { text: c.description },
    defaultConfiguration: { level: c.severity === 'error' ? 'error' : 'warning' },
  }));
  const doc = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'pmat', version, informationUri: 'https://github.com/paiml/paiml-mcp-agent-toolkit', rules } },
        originalUriBaseIds: { '%SRCROOT%': { uri: `file://${report.root.endsWith('/') ? report.root : `${report.root}/`}` } },
        results: shown(report, opts).flatMap(sarifResults),
        invocations: [{ executionSuccessful: true }],
      },
    ],
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
