import type { StatusReport } from './status.js';

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function pct(n: number, d: number): string {
  return d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(0)}%`;
}

/** The proof-status report as a table, the gaps per contract, and totals over the honest denominator. */
export function statusText(r: StatusReport): string {
  const rows = r.contracts.map((c) => {
    const obs = c.obligations;
    const proved = obs.filter((o) => o.proved).length;
    const decidable = obs.filter((o) => o.decidable).length;
    const refuted = obs.reduce((a, o) => a + o.proofs.refuted, 0);
    const unknown = obs.reduce((a, o) => a + o.proofs.unknown, 0);
    const bound = c.equations.filter((e) => e.bindings.length > 0).length;
    return [
      c.id,
      `L${c.level}${c.vacuous.length ? '*' : ''}`,
      `${bound}/${c.equations.length}`,
      `${obs.filter((o) => o.tested).length}/${obs.length}`,
      `${proved}/${decidable}${refuted ? ` ${refuted} refuted` : ''}${unknown ? ` ${unknown} unknown` : ''}`,
      c.missing[0] ? `${c.missing[0]}${c.missing.length > 1 ? ` (+${c.missing.length - 1})` : ''}` : '',
    ];
  });
  const t = r.totals;
  const n = t.exportedOpsAndKernels;
  const lines = [
    ...table(['contract', 'level', 'eqs bound', 'obligations tested', 'z3 proved/decidable', 'next level needs'], rows),
    '',
    `contracts: ${t.contracts} (L0 ${t.byLevel.L0}, L1 ${t.byLevel.L1}, L2 ${t.byLevel.L2}, L3 ${t.byLevel.L3}, L4 ${t.byLevel.L4}, L5 ${t.byLevel.L5})`,
    `obligations: ${t.obligations}; tested (passed, none failed) ${t.obligationsTested}; z3-decidable ${t.obligationsDecidable}; proved ${t.obligationsProved}`,
    `obligation levels: ≥L1 ${t.obligationsAtLeast.L1}, ≥L2 (passing tagged test) ${t.obligationsAtLeast.L2} (${pct(t.obligationsAtLeast.L2, t.obligations)}), ≥L3 (and a z3 proof) ${t.obligationsAtLeast.L3}, ≥L4 (and a passing differential test) ${t.obligationsAtLeast.L4} (of ${t.obligations})`,
    `proof results: ${t.proofs.proved} proved, ${t.proofs.refuted} refuted, ${t.proofs.unknown} unknown/error, ${t.proofs.stale} stale`,
    `exported ops and kernels: ${n}; bound to a contract ${t.boundOpsAndKernels} (${pct(t.boundOpsAndKernels, n)}); at ≥L1 ${t.opsAndKernelsAtLeast.L1}, ≥L2 ${t.opsAndKernelsAtLeast.L2}, ≥L3 ${t.opsAndKernelsAtLeast.L3}, ≥L4 ${t.opsAndKernelsAtLeast.L4}, L5 ${t.opsAndKernelsAtLeast.L5} (of ${n})`,
    `facts: binding ${r.sources.binding ? 'contracts/binding.json' : 'MISSING (run npm run bind)'}; tests ${r.sources.tests ?? 'none recorded (.pv/test-results.json)'}; proofs ${r.sources.proofs ?? 'none recorded (.pv/proof-results.json)'}`,
  ];
  if (r.undeclaredProofs.length) lines.push(`proof results for obligations no contract defines (counted nowhere): ${r.undeclaredProofs.map((u) => `${u.contract}/${u.obligation} ${u.status}`).join(', ')}`);
  if (r.contracts.some((c) => c.vacuous.length)) lines.push('* level reached with no z3-decidable obligation declared (L3 holds vacuously)');
  return `${lines.join('\n')}\n`;
}
