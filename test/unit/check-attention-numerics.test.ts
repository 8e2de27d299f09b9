import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ropeNumerics } from '../../src/eval/integrity/attention-numerics.js';
import { runCheck } from '../../src/eval/integrity/index.js';
import { Findings } from '../../src/eval/integrity/types.js';
import { editFloats, rewriteApr, scratchDir, writeBaseApr } from './check-helpers.js';

let tmp: ReturnType<typeof scratchDir>;
let base: string;
beforeAll(() => {
  tmp = scratchDir('apr-check-attn-');
  base = join(tmp.dir, 'base.apr');
  writeBaseApr(base);
});
afterAll(() => tmp.cleanup());

describe('apr check stage 6: numeric attention checks beyond shapes', () => {
  it('the fixture passes with the RoPE invariants and the layer-0 score size reported', () => {
    const s = runCheck(base, { stages: [6], forward: false }).stages.find((x) => x.id === 6);
    expect(s?.status).toBe('PASS');
    // Rotations by the float32 kernel keep norms and q·k(m, n) = q·k(m + s, n + s) to float32 round-off (≤ 1e-4).
    expect(s?.details).toMatch(/RoPE keeps norms and relative positions to \d\.\de-(?:[5-9]|\d\d)/);
    expect(s?.details).toMatch(/layer-0 scores of 8 embedding rows finite, \|q·k\|\/√d ≤ \d/);
  });

  it('a q_proj scaled by 1e4 makes the layer-0 scores saturate softmax: a warning', () => {
    const path = rewriteApr(base, join(tmp.dir, 'hot.apr'), (b) => editFloats(b, 'model.layers.0.self_attn.q_proj.weight', (v) => v.forEach((x, k) => (v[k] = x * 1e4))));
    const s = runCheck(path, { stages: [6], forward: false }).stages.find((x) => x.id === 6);
    expect(s?.status).toBe('WARN');
    expect(s?.details).toMatch(/layer 0: attention scores up to [\d.e+]+ \(> 10000: softmax saturates\)/);
  });

  it('partial rotary (half the head, as Phi-3) keeps the invariants on the running kernel', () => {
    const f = new Findings();
    const cfg = { head_dim: 32, rope_theta: 10000, partial_rotary_factor: 0.5 } as Parameters<typeof ropeNumerics>[0];
    ropeNumerics(cfg, f);
    expect(f.fails).toEqual([]);
    expect(f.notes[0]).toMatch(/^RoPE keeps norms and relative positions to /);
  });
});
