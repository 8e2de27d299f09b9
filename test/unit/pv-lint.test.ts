import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isNumericObligation, lintContracts, RULES, toSarif, validateContracts } from '../../src/contract/pv/index.js';
import type { Diagnostic } from '../../src/contract/yaml/diagnostic.js';

const FIXTURES = path.resolve(process.cwd(), 'test/fixtures/pv/lint');
const lint = (name: string): Diagnostic[] => lintContracts({ root: path.join(FIXTURES, name) });

/** Each fixture is a small project whose only defect triggers its rule (PV012/PV013 also leave an equation without obligations). */
const EXPECTED: Record<string, { rules: string[]; severity: Diagnostic['severity']; text: RegExp }> = {
  PV001: { rules: ['PV001'], severity: 'error', text: /YAML does not parse/ },
  PV002: { rules: ['PV002'], severity: 'error', text: /proof_obligations\.0\.formal: missing field/ },
  PV003: { rules: ['PV003'], severity: 'error', text: /'demo-v2' differs from the file name 'demo-v1'/ },
  PV004: { rules: ['PV004'], severity: 'error', text: /duplicate proof_obligations id 'demo-even'/ },
  PV005: { rules: ['PV005'], severity: 'error', text: /names obligation 'demo-odd'/ },
  PV006: { rules: ['PV006'], severity: 'error', text: /proofs\/missing\.ts does not exist/ },
  PV007: { rules: ['PV007'], severity: 'error', text: /'demo-small' has no test tagged \[ob:demo-small\]/ },
  PV008: { rules: ['PV008'], severity: 'warning', text: /'demo-small' has a z3 proof but no tagged test/ },
  PV009: { rules: ['PV009'], severity: 'error', text: /checks\/gone\.txt does not exist/ },
  PV010: { rules: ['PV010'], severity: 'warning', text: /checks\/other\.txt tags none/ },
  PV011: { rules: ['PV011'], severity: 'warning', text: /'demo-exact' is about floating-point values but has no tolerance/ },
  PV012: { rules: ['PV012', 'PV015'], severity: 'error', text: /names equation 'triple'/ },
  PV013: { rules: ['PV013', 'PV015'], severity: 'warning', text: /'demo-exact' does not say which of the 2 equations/ },
  PV014: { rules: ['PV014'], severity: 'warning', text: /unknown key 'proof_obligations\.0\.tolerence'/ },
  PV015: { rules: ['PV015'], severity: 'warning', text: /equation 'half' has no proof obligation/ },
  PV016: { rules: ['PV016'], severity: 'error', text: /defines no equation/ },
};

describe('pv lint rules, one small bad fixture each', () => {
  it('the clean fixture has no findings', () => {
    expect(lint('good')).toEqual([]);
  });

  it('every rule has a fixture and every fixture is listed', () => {
    expect(readdirSync(FIXTURES).filter((d) => d !== 'good').sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(RULES.map((r) => r.id).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s', (name, want) => {
    const diags = lint(name);
    expect([...new Set(diags.map((d) => d.rule))].sort()).toEqual(want.rules);
    const hit = diags.find((d) => d.rule === name && want.text.test(d.message));
    expect(hit, JSON.stringify(diags)).toBeDefined();
    expect(hit?.severity).toBe(want.severity);
    expect(hit?.file).toMatch(/^contracts\/\w+-v1\.yaml$/);
    expect(hit?.line).toBeGreaterThan(0);
  });

  it('a cross-file duplicate obligation id is reported in the second file', () => {
    const d = lint('PV004').filter((x) => x.file === 'contracts/other-v1.yaml');
    expect(d.map((x) => x.message)).toEqual([expect.stringMatching(/'demo-even' is also defined in contracts\/demo-v1\.yaml/)]);
  });

  it('numeric-without-tolerance is an error when numeric: true is declared', () => {
    const d = lint('PV011').find((x) => x.message.includes("'demo-float'"));
    expect(d?.severity).toBe('error');
    expect(isNumericObligation({ id: 'a', type: 'bound', property: 'p', formal: 'x ≤ 2^-23 |x|' })).toBe(false);
    expect(isNumericObligation({ id: 'a', type: 'bound', property: 'p', formal: '|a − b| ≤ 1e-6' })).toBe(true);
  });

  it('validate reports only schema problems', () => {
    expect(validateContracts({ root: path.join(FIXTURES, 'PV007') }).diagnostics).toEqual([]);
    expect(validateContracts({ root: path.join(FIXTURES, 'PV002') }).diagnostics.map((d) => d.rule)).toEqual(['PV002', 'PV002']);
  });

  it('SARIF 2.1.0 output names the rule, level and location', () => {
    const sarif = toSarif(lint('PV009'), '0.1.0') as { version: string; runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; level: string; ruleIndex: number; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
    expect(sarif.version).toBe('2.1.0');
    const run = sarif.runs[0];
    const result = run?.results[0];
    expect(result?.ruleId).toBe('PV009');
    expect(result?.level).toBe('error');
    expect(run?.tool.driver.rules[result?.ruleIndex ?? -1]?.id).toBe('PV009');
    expect(result?.locations[0]?.physicalLocation).toEqual({ artifactLocation: { uri: 'contracts/demo-v1.yaml' }, region: { startLine: 8 } });
  });
});
