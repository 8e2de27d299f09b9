import { checkEnabled, checkSeverity, type Suppression } from './config.js';
import type { ProjectContext } from './context.js';
import { matchesGlob } from './glob.js';
import type { Check, Finding, Outcome, Severity, Status } from './types.js';

export interface CheckResult {
  id: string;
  name: string;
  description: string;
  status: Status;
  severity: Severity;
  /** What the check measured, one line. */
  summary: string;
  /** The summary followed by the first findings, one line. */
  message: string;
  findings: Finding[];
  suppressed: number;
  durationMs: number;
}

export interface Summary {
  total: number;
  pass: number;
  warn: number;
  fail: number;
  skip: number;
}

export interface ComplianceReport {
  root: string;
  strict: boolean;
  is_compliant: boolean;
  summary: Summary;
  checks: CheckResult[];
  durationMs: number;
}

/** Which suppressions matched something, for the suppression-hygiene check. */
export interface SuppressionUsage {
  ran: Set<string>;
  used: Set<Suppression>;
}

export function suppressionUsage(ctx: ProjectContext): SuppressionUsage {
  return ctx.memo('suppression-usage', () => ({ ran: new Set<string>(), used: new Set<Suppression>() }));
}

export function isExpired(s: Suppression, now: Date): boolean {
  return s.expires < now.toISOString().slice(0, 10);
}

const MAX_LISTED = 3;

export function formatFinding(f: Finding): string {
  const where = f.file ? `${f.file}${f.line ? `:${f.line}` : ''}: ` : '';
  return `${where}${f.message}`;
}

function statusOf(o: Outcome, findings: readonly Finding[]): Status {
  if (o.skipped) return 'skip';
  if (findings.some((f) => f.level === 'fail')) return 'fail';
  return findings.some((f) => f.level === 'warn') ? 'warn' : 'pass';
}

function messageOf(o: Outcome, status: Status, findings: readonly Finding[], suppressed: number): string {
  const note = suppressed > 0 ? ` (${suppressed} suppressed)` : '';
  if (status === 'pass' || status === 'skip' || findings.length === 0) return `${o.summary}${note}`;
  const shown = findings.filter((f) => f.level === (status === 'fail' ? 'fail' : 'warn')).slice(0, MAX_LISTED);
  const more = findings.length - shown.length;
  return `${o.summary}${note}: ${shown.map(formatFinding).join('; ')}${more > 0 ? `; +${more} more` : ''}`;
}

function applySuppressions(ctx: ProjectContext, check: Check, findings: Finding[]): { kept: Finding[]; suppressed: number } {
  const active = ctx.config.suppressions.filter((s) => s.id === check.id && s.path && !isExpired(s, ctx.now));
  const usage = suppressionUsage(ctx);
  const kept = findings.filter((f) => {
    const s = active.find((x) => f.file !== undefined && x.path !== undefined && matchesGlob(f.file, x.path));
    if (s) usage.used.add(s);
    return !s;
  });
  return { kept, suppressed: findings.length - kept.length };
}

function preempted(ctx: ProjectContext, check: Check): string | undefined {
  if (!checkEnabled(ctx.config, check.id)) return 'disabled in pmat.config.json';
  const whole = ctx.config.suppressions.find((s) => s.id === check.id && !s.path && !isExpired(s, ctx.now));
  if (whole) {
    suppressionUsage(ctx).used.add(whole);
    return `suppressed until ${whole.expires}: ${whole.reason}`;
  }
  return undefined;
}

/** Runs one check: config enablement, thresholds, severity, suppressions; never throws. */
export async function runCheck(ctx: ProjectContext, check: Check): Promise<CheckResult> {
  const started = Date.now();
  const severity = checkSeverity(ctx.config, check);
  const base = { id: check.id, name: check.name, description: check.description, severity };
  const reason = preempted(ctx, check);
  if (reason) return { ...base, status: 'skip', summary: reason, message: reason, findings: [], suppressed: 0, durationMs: 0 };
  suppressionUsage(ctx).ran.add(check.id);
  let o: Outcome;
  try {
    o = await check.execute(ctx, ctx.config.checks[check.id]?.thresholds);
  } catch (e) {
    o = { summary: `internal error: ${(e as Error).message.split('\n')[0] ?? ''}`, findings: [{ level: 'fail', message: 'the check crashed' }] };
  }
  if (o.skipped) suppressionUsage(ctx).ran.delete(check.id);
  const downgraded = o.findings.map((f) => (severity === 'warning' && f.level === 'fail' ? { ...f, level: 'warn' as const } : f));
  const { kept, suppressed } = applySuppressions(ctx, check, downgraded);
  const status = statusOf(o, kept);
  const summary = `${o.summary}${suppressed > 0 ? ` (${suppressed} suppressed)` : ''}`;
  return { ...base, status, summary, message: messageOf(o, status, kept, suppressed), findings: kept, suppressed, durationMs: Date.now() - started };
}

/**
 * Runs the checks: the slow ones (external tools) start first and run alongside the in-process
 * analyses; checks marked `last` run when all others are done. Results keep the registry order.
 */
export async function runChecks(ctx: ProjectContext, checks: readonly Check[]): Promise<CheckResult[]> {
  const results = new Map<string, CheckResult>();
  const slow = checks.filter((c) => c.slow && !c.last).map(async (c) => results.set(c.id, await runCheck(ctx, c)));
  for (const c of checks.filter((x) => !x.slow && !x.last)) {
    results.set(c.id, await runCheck(ctx, c));
    await new Promise((resolve) => setImmediate(resolve)); // lets the tools' output pipes drain
  }
  await Promise.all(slow);
  for (const c of checks.filter((x) => x.last)) results.set(c.id, await runCheck(ctx, c));
  return checks.flatMap((c) => results.get(c.id) ?? []);
}

export function summarise(results: readonly CheckResult[]): Summary {
  const count = (s: Status): number => results.filter((r) => r.status === s).length;
  return { total: results.length, pass: count('pass'), warn: count('warn'), fail: count('fail'), skip: count('skip') };
}

/** Exit policy (pmat's): 1 on any failure; 2 with `--strict` when there are warnings only; else 0. */
export function exitCode(report: Pick<ComplianceReport, 'summary'>, strict: boolean): 0 | 1 | 2 {
  if (report.summary.fail > 0) return 1;
  if (strict && report.summary.warn > 0) return 2;
  return 0;
}
