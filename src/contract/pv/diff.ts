import type { ContractYaml } from '../yaml/schema.js';

export type Bump = 'none' | 'patch' | 'minor' | 'major';
const ORDER: readonly Bump[] = ['none', 'patch', 'minor', 'major'];

export interface Change {
  kind: 'added' | 'removed' | 'changed';
  section: 'contract' | 'metadata' | 'equation' | 'obligation' | 'falsification_test' | 'proof';
  id: string;
  fields?: string[];
  /** The semver level this change needs: breaking (major), additive (minor) or editorial (patch). */
  impact: Exclude<Bump, 'none'>;
  note?: string;
}

export interface ContractDiff {
  contract: string;
  oldVersion: string | null;
  newVersion: string | null;
  changes: Change[];
  bump: Bump;
  /** False when the version in the new file does not reflect the suggested bump. */
  versionOk: boolean;
}

function maxBump(changes: readonly Change[]): Bump {
  return changes.reduce<Bump>((b, c) => (ORDER.indexOf(c.impact) > ORDER.indexOf(b) ? c.impact : b), 'none');
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function changedFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !same(a[k], b[k])).sort();
}

function diffById<T extends { id: string }>(section: Change['section'], olds: readonly T[], news: readonly T[], impactOf: (o: T, n: T, fields: string[]) => Change['impact'], added: Change['impact'], removed: Change['impact']): Change[] {
  const out: Change[] = [];
  const byId = new Map(news.map((n) => [n.id, n]));
  for (const o of olds) {
    const n = byId.get(o.id);
    if (!n) out.push({ kind: 'removed', section, id: o.id, impact: removed });
    else {
      const fields = changedFields(o, n);
      if (fields.length) out.push({ kind: 'changed', section, id: o.id, fields, impact: impactOf(o, n, fields) });
    }
  }
  const oldIds = new Set(olds.map((o) => o.id));
  for (const n of news) if (!oldIds.has(n.id)) out.push({ kind: 'added', section, id: n.id, impact: added });
  return out;
}

function equationChanges(a: ContractYaml, b: ContractYaml): Change[] {
  const olds = Object.entries(a.equations).map(([id, e]) => ({ id, ...e }));
  const news = Object.entries(b.equations).map(([id, e]) => ({ id, ...e }));
  return diffById('equation', olds, news, (o, n, fields) => {
    if (fields.some((f) => ['formula', 'domain', 'codomain'].includes(f))) return 'major';
    const lost = (o.invariants ?? []).some((i) => !(n.invariants ?? []).includes(i));
    return lost ? 'major' : fields.includes('invariants') ? 'minor' : 'patch';
  }, 'minor', 'major');
}

function obligationChanges(a: ContractYaml, b: ContractYaml): Change[] {
  return diffById('obligation', a.proof_obligations, b.proof_obligations, (o, n, fields) => {
    if (fields.some((f) => ['formal', 'type', 'property'].includes(f))) return 'major';
    if (fields.includes('tolerance')) return (n.tolerance ?? Infinity) > (o.tolerance ?? Infinity) ? 'major' : 'minor';
    return 'patch';
  }, 'minor', 'major');
}

function metadataChanges(a: ContractYaml, b: ContractYaml): Change[] {
  const fields = changedFields(a.metadata, b.metadata).filter((f) => f !== 'version');
  if (fields.length === 0) return [];
  return [{ kind: 'changed', section: 'metadata', id: b.metadata.id, fields, impact: fields.includes('id') ? 'major' : 'patch' }];
}

function parseVersion(v: number | string): [number, number, number] {
  if (typeof v === 'number') return [v, 0, 0];
  const [x = 0, y = 0, z = 0] = v.split('.').map(Number);
  return [x, y, z];
}

/** Whether going from `a` to `b` bumps the version at least as much as `bump` asks (integer versions only carry majors). */
export function versionReflects(a: number | string, b: number | string, bump: Bump): boolean {
  const [x1, y1, z1] = parseVersion(a);
  const [x2, y2, z2] = parseVersion(b);
  const cmp = x2 !== x1 ? x2 - x1 : y2 !== y1 ? y2 - y1 : z2 - z1;
  if (bump === 'none') return cmp >= 0;
  if (bump === 'major') return x2 > x1;
  if (typeof b === 'number') return cmp >= 0;
  if (bump === 'minor') return x2 > x1 || (x2 === x1 && y2 > y1);
  return cmp > 0;
}

/** Added/removed/changed equations, obligations, tests and proofs between two versions of a contract. */
export function diffContracts(a: ContractYaml, b: ContractYaml): ContractDiff {
  const changes = [
    ...metadataChanges(a, b),
    ...equationChanges(a, b),
    ...obligationChanges(a, b),
    ...diffById('falsification_test', a.falsification_tests, b.falsification_tests, () => 'patch', 'patch', 'patch'),
    ...diffById('proof', a.proofs ?? [], b.proofs ?? [], () => 'patch', 'patch', 'patch'),
  ];
  const bump = maxBump(changes);
  return { contract: b.metadata.id, oldVersion: String(a.metadata.version), newVersion: String(b.metadata.version), changes, bump, versionOk: versionReflects(a.metadata.version, b.metadata.version, bump) };
}

/** Pairs contracts by id: whole contracts added (minor) or removed (major) count too. */
export function diffContractSets(olds: readonly ContractYaml[], news: readonly ContractYaml[]): ContractDiff[] {
  const out: ContractDiff[] = [];
  const byId = new Map(news.map((n) => [n.metadata.id, n]));
  for (const o of olds) {
    const n = byId.get(o.metadata.id);
    if (n) out.push(diffContracts(o, n));
    else out.push({ contract: o.metadata.id, oldVersion: String(o.metadata.version), newVersion: null, changes: [{ kind: 'removed', section: 'contract', id: o.metadata.id, impact: 'major' }], bump: 'major', versionOk: true });
  }
  const oldIds = new Set(olds.map((o) => o.metadata.id));
  for (const n of news) {
    if (!oldIds.has(n.metadata.id)) out.push({ contract: n.metadata.id, oldVersion: null, newVersion: String(n.metadata.version), changes: [{ kind: 'added', section: 'contract', id: n.metadata.id, impact: 'minor' }], bump: 'minor', versionOk: true });
  }
  return out.sort((x, y) => x.contract.localeCompare(y.contract));
}

export function diffText(diffs: readonly ContractDiff[]): string {
  const lines: string[] = [];
  for (const d of diffs) {
    lines.push(`${d.contract}: ${d.changes.length} change(s), suggested bump ${d.bump} (version ${d.oldVersion ?? '-'} → ${d.newVersion ?? '-'}${d.versionOk ? '' : ', version not bumped enough'})`);
    for (const c of d.changes) {
      const sign = c.kind === 'added' ? '+' : c.kind === 'removed' ? '-' : '~';
      lines.push(`  ${sign} ${c.section} ${c.id}${c.fields ? ` [${c.fields.join(', ')}]` : ''} (${c.impact})`);
    }
  }
  if (diffs.length === 0) lines.push('no contracts');
  return `${lines.join('\n')}\n`;
}
