export type Severity = 'error' | 'warning' | 'info';

/** One finding about a contract file: rule id, severity, where (file relative to the project root, line), what. */
export interface Diagnostic {
  rule: string;
  severity: Severity;
  file: string;
  line?: number;
  message: string;
}
