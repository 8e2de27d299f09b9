import type { Diagnostic, Severity } from '../yaml/diagnostic.js';
import { RULES } from './rules.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', info: 'note' };

/** Diagnostics as a SARIF 2.1.0 log (one run, tool `pv`, every rule described). */
export function toSarif(diagnostics: readonly Diagnostic[], toolVersion: string): Record<string, unknown> {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'pv',
            version: toolVersion,
            rules: RULES.map((r) => ({ id: r.id, name: r.name, shortDescription: { text: r.description }, defaultConfiguration: { level: LEVEL[r.severity] } })),
          },
        },
        results: diagnostics.map((d) => ({
          ruleId: d.rule,
          ruleIndex: Math.max(0, RULES.findIndex((r) => r.id === d.rule)),
          level: LEVEL[d.severity],
          message: { text: d.message },
          locations: [{ physicalLocation: { artifactLocation: { uri: d.file.split('\\').join('/') }, ...(d.line ? { region: { startLine: d.line } } : {}) } }],
        })),
      },
    ],
  };
}

/** `file:line: severity RULE message`, one per line, then a count line. */
export function diagnosticsText(diagnostics: readonly Diagnostic[]): string {
  const lines = diagnostics.map((d) => `${d.file}${d.line ? `:${d.line}` : ''}: ${d.severity} ${d.rule} ${d.message}`);
  const n = (s: Severity): number => diagnostics.filter((d) => d.severity === s).length;
  lines.push(`${n('error')} error(s), ${n('warning')} warning(s), ${n('info')} note(s)`);
  return `${lines.join('\n')}\n`;
}
