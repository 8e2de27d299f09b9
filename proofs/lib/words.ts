import type { BitVec } from 'z3-solver';
import type { Z3Ctx } from '../../src/contract/pv/harness.js';

/**
 * JavaScript's 32-bit integer operators, written once and evaluated either on numbers (to compare a harness
 * expression with the project's code) or on z3 32-bit vectors (to prove facts about it). `sar` is `>>`,
 * `shr` is `>>>`, `u8` is the truncation a Uint8Array store applies.
 */
export interface Words<W> {
  lit(n: number): W;
  and(a: W, b: W | number): W;
  or(a: W, b: W | number): W;
  shl(a: W, n: number): W;
  sar(a: W, n: number): W;
  shr(a: W, n: number): W;
  add(a: W, b: W | number): W;
  sub(a: W, b: W | number): W;
  u8(a: W): W;
}

export const jsWords: Words<number> = {
  lit: (n) => n | 0,
  and: (a, b) => a & b,
  or: (a, b) => a | b,
  shl: (a, n) => a << n,
  sar: (a, n) => a >> n,
  shr: (a, n) => (a >>> n) | 0,
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  u8: (a) => a & 0xff,
};

export type W32 = BitVec<32, 'main'>;

export function z3Words(ctx: Z3Ctx): Words<W32> {
  const v = (b: W32 | number): W32 => (typeof b === 'number' ? ctx.BitVec.val(b, 32) : b);
  return {
    lit: (n) => ctx.BitVec.val(n, 32),
    and: (a, b) => a.and(v(b)),
    or: (a, b) => a.or(v(b)),
    shl: (a, n) => a.shl(n),
    sar: (a, n) => a.shr(n),
    shr: (a, n) => a.lshr(n),
    add: (a, b) => a.add(v(b)),
    sub: (a, b) => a.sub(v(b)),
    u8: (a) => a.and(0xff),
  };
}

/** A fresh 32-bit variable whose value is a byte (what reading a Uint8Array gives). */
export function byteVar(ctx: Z3Ctx, name: string): { v: W32; inRange: ReturnType<W32['ule']> } {
  const v = ctx.BitVec.const(name, 32);
  return { v, inRange: v.ule(0xff) };
}

/** A fresh 32-bit variable constrained to [0, 2^bits). */
export function uVar(ctx: Z3Ctx, name: string, bits: number): { v: W32; inRange: ReturnType<W32['ule']> } {
  const v = ctx.BitVec.const(name, 32);
  return { v, inRange: v.ule(2 ** bits - 1) };
}
