import type { Z3Arith, Z3Bool, Z3Ctx } from '../../src/contract/pv/harness.js';

export function absR(ctx: Z3Ctx, a: Z3Arith): Z3Arith {
  return ctx.If(a.ge(0), a, a.neg());
}

/** C's float → int conversion (truncation toward zero), as an Int term. */
export function roundTrunc(ctx: Z3Ctx, a: Z3Arith): Z3Arith {
  return ctx.If(a.ge(0), ctx.ToInt(a), ctx.ToInt(a.neg()).neg());
}

/** C's roundf / JS-free "half away from zero" rounding, as an Int term. */
export function roundHalfAway(ctx: Z3Ctx, a: Z3Arith): Z3Arith {
  return ctx.If(a.ge(0), ctx.ToInt(a.add(0.5)), ctx.ToInt(a.neg().add(0.5)).neg());
}

const F16_MIN_NORMAL = 2 ** -14;
const F16_MAX = 65504;
const F16_UNIT_ROUNDOFF = 2 ** -11;
const F16_HALF_SUBNORMAL_STEP = 2 ** -25;

/**
 * The scale `d` stored as f16 (round to nearest): d16 = d + e with |e| ≤ 2^-11·|d| in the normal range and
 * |e| ≤ 2^-25 (half the subnormal spacing) below it; |d| ≤ 65504. Returns d16, the domain constraints and
 * `err16` = qmax · (that bound on |e|), the extra dequantization error a quant of magnitude ≤ qmax picks up.
 */
export function f16Scale(ctx: Z3Ctx, d: Z3Arith, qmax: number): { d16: Z3Arith; given: Z3Bool[]; err16: Z3Arith } {
  const e = ctx.Real.const('e16');
  const ad = absR(ctx, d);
  const bound = ctx.If(ad.ge(F16_MIN_NORMAL), ad.mul(F16_UNIT_ROUNDOFF), ctx.Real.val(F16_HALF_SUBNORMAL_STEP));
  return {
    d16: d.add(e),
    given: [ad.le(F16_MAX), absR(ctx, e).le(bound)],
    err16: bound.mul(qmax),
  };
}
