/**
 * Q8_0 (ggml `block_q8_0 { f16 d; i8 qs[32] }`), ggml quantize_row_q8_0_ref over the
 * reals: amax = max |x|, d = amax/127, q = roundf(x·(1/d)), stored d16 = f16(d); dequantized x̂ = q·d16
 * (src/tensor/codecs/legacy.ts dequantizeQ8_0). Every element of a block has |x| ≤ amax, so proving the
 * claim for one generic x with |x| ≤ amax proves it for each element of every block.
 */
import { defineProofs, type ProofSession, type Z3Arith } from '../src/contract/pv/harness.js';
import { absR, f16Scale, roundHalfAway, roundTrunc } from './lib/reals.js';

const CONTRACT = 'quant-q8_0-v1';

function setup(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [amax, x, t] = ['amax', 'x', 't'].map((n) => ctx.Real.const(n)) as [Z3Arith, Z3Arith, Z3Arith];
  const d = amax.div(plant === 'd-128' ? 128 : 127);
  // t = x·id with id = 1/d, i.e. t·d = x (d > 0).
  const given = [amax.gt(0), absR(ctx, x).le(amax), t.mul(d).eq(x)];
  const q = plant === 'truncate' ? roundTrunc(ctx, t) : roundHalfAway(ctx, t);
  return { ctx, amax, x, d, q, given };
}

async function range(z: ProofSession, plant?: string) {
  const { ctx, amax, x, q, given } = setup(z, plant);
  return z.check(ctx.And(q.ge(-127), q.le(127)), { given, show: { amax, x, q }, label: 'q fits in [-127, 127]' });
}

async function errorBound(z: ProofSession, plant?: string) {
  const { ctx, amax, x, d, q, given } = setup(z, plant);
  const { d16, given: f16Given, err16 } = f16Scale(ctx, d, 127);
  const xhat = ctx.ToReal(q).mul(d16);
  const claim = absR(ctx, x.sub(xhat)).le(d.mul(0.5).add(err16));
  return z.check(claim, { given: [...given, ...f16Given, q.ge(-127), q.le(127)], show: { amax, x, q, xhat }, label: 'error bound' });
}

export const proofs = defineProofs([
  {
    id: 'PF-q8_0-range', contract: CONTRACT, obligation: 'q8_0-range', bound: null,
    title: 'roundf(x/d) with d = amax/127 always fits in [-127, 127] (no int8 overflow, no clamp needed)',
    plants: { 'd-128': 'scale d = amax/128 (quants reach 128)' },
    run: (z, o) => range(z, o.plant),
  },
  {
    id: 'PF-q8_0-error-bound', contract: CONTRACT, obligation: 'q8_0-error-bound', bound: null,
    title: '|x − q·d16| ≤ d/2 + 127·|d16 − d| (≤ 0.562·d in the f16 normal range), reals',
    plants: { truncate: 'q = trunc(x/d) instead of roundf' },
    run: (z, o) => errorBound(z, o.plant),
  },
]);
