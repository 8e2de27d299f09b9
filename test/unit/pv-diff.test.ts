import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffContracts, diffContractSets, diffText, versionReflects } from '../../src/contract/pv/index.js';
import { loadContractFile } from '../../src/contract/yaml/load.js';
import type { ContractYaml } from '../../src/contract/yaml/schema.js';

const DIR = path.resolve(process.cwd(), 'test/fixtures/pv/diff');
function load(name: string): ContractYaml {
  const r = loadContractFile(path.join(DIR, `${name}.yaml`));
  if (!r.contract) throw new Error(JSON.stringify(r.problems));
  return r.contract.doc;
}
const old = load('old');
const summary = (name: string) => diffContracts(old, load(name)).changes.map((c) => `${c.kind} ${c.section} ${c.id}${c.fields ? ` [${c.fields.join(',')}]` : ''} ${c.impact}`);

describe('pv diff', () => {
  it('no change, no bump', () => {
    expect(diffContracts(old, old)).toMatchObject({ changes: [], bump: 'none', versionOk: true });
  });

  it('editorial changes (description, references, a new falsification test) are a patch', () => {
    expect(summary('patch')).toEqual(['changed metadata demo-v1 [description,references] patch', 'added falsification_test FT-demo-more patch']);
    expect(diffContracts(old, load('patch')).bump).toBe('patch');
  });

  it('additions (equation, obligation, invariant) and a tighter tolerance are minor', () => {
    expect(summary('minor')).toEqual([
      'changed equation double [invariants] minor',
      'added equation half minor',
      'changed obligation demo-close [tolerance] minor',
      'added obligation demo-inverse minor',
    ]);
    expect(diffContracts(old, load('minor')).bump).toBe('minor');
  });

  it('a changed formula, a lost invariant, a removed obligation or a looser tolerance are major, and the version must say so', () => {
    expect(summary('major')).toEqual([
      'changed equation double [formula,invariants] major',
      'removed obligation demo-even major',
      'changed obligation demo-close [tolerance] major',
    ]);
    expect(diffContracts(old, load('major'))).toMatchObject({ bump: 'major', versionOk: false });
    expect(diffContracts(old, load('major-bumped'))).toMatchObject({ bump: 'major', versionOk: true, oldVersion: '1', newVersion: '2' });
    expect(diffText([diffContracts(old, load('major'))])).toContain('suggested bump major (version 1 → 1, version not bumped enough)');
  });

  it('semver strings need the matching component bumped', () => {
    expect(versionReflects('1.2.3', '1.3.0', 'minor')).toBe(true);
    expect(versionReflects('1.2.3', '1.2.4', 'minor')).toBe(false);
    expect(versionReflects('1.2.3', '1.2.4', 'patch')).toBe(true);
    expect(versionReflects('1.2.3', '2.0.0', 'major')).toBe(true);
  });

  it('folders: whole contracts added (minor) or removed (major)', () => {
    const other = { ...old, metadata: { ...old.metadata, id: 'other-v1' } };
    const d = diffContractSets([old], [other]);
    expect(d.map((x) => `${x.contract} ${x.bump} ${x.changes[0]?.kind}`)).toEqual(['demo-v1 major removed', 'other-v1 minor added']);
  });
});
