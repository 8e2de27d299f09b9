import { describe, expect, it } from 'vitest';
import { discoverProofs, harnessFiles, runProofs, selectProofs, UnknownProofError } from '../../src/contract/pv/index.js';

const root = process.cwd();

describe('pv prove: discovery and selection (no z3 needed)', () => {
  it('finds every harness file and proof, ids unique', async () => {
    expect(harnessFiles(root)).toContain('proofs/q4_0.ts');
    const all = await discoverProofs(root);
    expect(new Set(all.map((p) => p.harness.id)).size).toBe(all.length);
    expect(all.find((p) => p.harness.id === 'PF-q4_0-nibble-bijection')?.file).toBe('proofs/q4_0.ts');
  });

  it('selects by proof id, contract id or obligation id', async () => {
    const all = await discoverProofs(root);
    expect(selectProofs(all, 'quant-q4_0-v1').map((p) => p.harness.id).sort()).toEqual(['PF-q4_0-element-index', 'PF-q4_0-error-bound', 'PF-q4_0-nibble-bijection']);
    expect(selectProofs(all, 'q8_0-range').map((p) => p.harness.id)).toEqual(['PF-q8_0-range']);
    expect(selectProofs(all, 'PF-apr-align64')).toHaveLength(1);
  });

  it('an unknown target or planted bug is refused before z3 starts', async () => {
    await expect(runProofs({ root, target: 'no-such-proof' })).rejects.toThrow(UnknownProofError);
    await expect(runProofs({ root, target: 'PF-q4_0-nibble-bijection', plant: 'no-such-bug' })).rejects.toThrow(/no selected proof knows the planted bug 'no-such-bug' \(known: hi-shift-3, lo-mask-7\)/);
  });
});
