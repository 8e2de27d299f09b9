/**
 * Direct tests of small helpers that the larger suites only reach indirectly: Python-compatible JSON text,
 * the code-eval rerankers, pv's SARIF/text diagnostics and obligation tags.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diagnosticsText, toSarif } from '../../src/contract/pv/sarif.js';
import { tagsInFile } from '../../src/contract/pv/tags.js';
import type { Diagnostic } from '../../src/contract/yaml/diagnostic.js';
import { type RerankCandidate, rerank } from '../../src/eval/code/rerank.js';
import { pythonJsonDumps } from '../../src/formats/hf-dir/json-text.js';

const dir = mkdtempSync(join(tmpdir(), 'apr-small-helpers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pythonJsonDumps', () => {
  // Expected texts printed by CPython 3: json.dumps(v, indent=2, sort_keys=True[, ensure_ascii=False]).
  const value: unknown = JSON.parse('{"b":[1,2,{"z":null,"a":true}],"a":"héllo ✓","__proto__":"x","c":{"y":0.5,"x":-3}}');
  const python = '{\n  "__proto__": "x",\n  "a": "h\\u00e9llo \\u2713",\n  "b": [\n    1,\n    2,\n    {\n      "a": true,\n      "z": null\n    }\n  ],\n  "c": {\n    "x": -3,\n    "y": 0.5\n  }\n}';

  it('matches Python byte for byte, keys sorted at every depth, __proto__ kept as a plain key', () => {
    expect(pythonJsonDumps(value, { ensureAscii: true })).toBe(python);
  });

  it('without ensure_ascii keeps the characters as they are', () => {
    expect(pythonJsonDumps(value)).toBe(python.replace('\\u00e9', 'é').replace('\\u2713', '✓'));
  });
});

describe('rerank (which completion a reranker picks; never looks at hidden tests)', () => {
  const pass = (output: string | null = null) => ({ passed: true, output });
  const fail = (output: string | null = null) => ({ passed: false, output });
  const cands: RerankCandidate[] = [
    { meanLogprob: -2, visible: [fail('1'), pass('2')] },
    { meanLogprob: null, visible: null },
    { meanLogprob: -0.5, visible: [pass('3'), pass('2')] },
    { meanLogprob: -1, visible: [pass('3'), pass('2')] },
  ];

  it('none takes the first sample; logprob the highest mean log-probability (null counts as −∞)', () => {
    expect(rerank('none', cands)).toBe(0);
    expect(rerank('logprob', cands)).toBe(2);
    expect(rerank('logprob', [{ meanLogprob: null, visible: null }, { meanLogprob: -9, visible: null }])).toBe(1);
  });

  it('majority picks the first member of the largest group agreeing on every visible output', () => {
    expect(rerank('majority', cands)).toBe(2);
    // a tie goes to the group seen first
    expect(rerank('majority', [cands[0] as RerankCandidate, cands[2] as RerankCandidate])).toBe(0);
    // candidates that did not run the visible tests form no group
    expect(rerank('majority', [{ meanLogprob: 0, visible: null }, cands[3] as RerankCandidate])).toBe(1);
  });

  it('execution picks the first candidate passing every visible test, else the first', () => {
    expect(rerank('execution', cands)).toBe(2);
    expect(rerank('execution', [cands[0] as RerankCandidate, { meanLogprob: 0, visible: [] }])).toBe(0);
  });

  it('no candidates is an error', () => {
    expect(() => rerank('none', [])).toThrow(RangeError);
  });
});

describe('pv diagnostics: SARIF 2.1.0 and text', () => {
  const diags: Diagnostic[] = [
    { rule: 'PV003', severity: 'error', file: 'contracts\\a.yaml', line: 2, message: 'metadata.id differs' },
    { rule: 'NOPE', severity: 'info', file: 'contracts/b.yaml', message: 'a note' },
  ];

  it('one run of tool pv with every rule; results keep rule, level, message and a POSIX location', () => {
    const log = toSarif(diags, '9.9.9') as { version: string; runs: { tool: { driver: { name: string; version: string; rules: { id: string }[] } }; results: Record<string, unknown>[] }[] };
    expect(log.version).toBe('2.1.0');
    const run = log.runs[0];
    expect(run?.tool.driver.name).toBe('pv');
    expect(run?.tool.driver.version).toBe('9.9.9');
    const ids = run?.tool.driver.rules.map((r) => r.id) ?? [];
    expect(ids).toContain('PV003');
    expect(run?.results[0]).toEqual({
      ruleId: 'PV003', ruleIndex: ids.indexOf('PV003'), level: 'error', message: { text: 'metadata.id differs' },
      locations: [{ physicalLocation: { artifactLocation: { uri: 'contracts/a.yaml' }, region: { startLine: 2 } } }],
    });
    expect(run?.results[1]).toMatchObject({ ruleId: 'NOPE', ruleIndex: 0, level: 'note', locations: [{ physicalLocation: { artifactLocation: { uri: 'contracts/b.yaml' } } }] });
  });

  it('text: one line per diagnostic, then the counts', () => {
    expect(diagnosticsText(diags)).toBe('contracts\\a.yaml:2: error PV003 metadata.id differs\ncontracts/b.yaml: info NOPE a note\n1 error(s), 0 warning(s), 1 note(s)\n');
  });
});

describe('tagsInFile', () => {
  it('finds every [ob:<id>] tag in a test file, and caches the answer per file', () => {
    writeFileSync(join(dir, 'x.test.ts'), "it('a [ob:first-one] and [ob:second.v2]', () => {});\n// ob:third-id mentioned\n");
    const cache = new Map<string, Set<string> | undefined>();
    expect(tagsInFile(dir, 'x.test.ts', cache)).toEqual(new Set(['first-one', 'second.v2', 'third-id']));
    writeFileSync(join(dir, 'x.test.ts'), '');
    expect(tagsInFile(dir, 'x.test.ts', cache)?.size).toBe(3);
    expect(tagsInFile(dir, 'missing.test.ts')).toBeUndefined();
  });
});
