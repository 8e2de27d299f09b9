import { type Asm, type KernelSource, OP, SIMD } from './asm.js';
import { INT_BASIC_SPECS } from './int-basic-src.js';
import { INT_EMIT, type IntKernelSpec } from './int-spec.js';

/**
 * The integer-dot product for several tokens (prefill) against 32-value blocks (the K-quants take
 * int-k8-src.ts): two weight rows at a time are unpacked once into a scratch (int16 values and per block dw),
 * then every pair of token rows
 * runs a 2 × 2 micro-kernel over it (each weight vector load serves two tokens, each activation load two
 * rows). Per (row, token) the arithmetic is the one-token kernel's (int-src.ts): the same int32 lanes, the same
 * float32 operations in the same order, so a prefill row equals the decode of that token bit for bit.
 * Scratch per row: 2·cols bytes of values, then per block dw (f32).
 */

const R = 2;
const T = 2;

function declare(a: Asm, spec: IntKernelSpec): void {
  INT_EMIT.geometry(a, spec);
  a.local('r', 'i32').local('t', 'i32').local('nT', 'i32').local('rowsR', 'i32').local('sb', 'i32').local('wp', 'i32');
  a.local('uB', 'i32').local('slot', 'i32').local('uq', 'i32').local('wv', 'v128').local('xv', 'v128').local('s4', 'i32');
  for (let rr = 0; rr < R; rr++) a.local(`up${rr}`, 'i32').local(`sl${rr}`, 'i32').local(`w${rr}`, 'v128').local(`dw${rr}`, 'f32');
  for (let tt = 0; tt < T; tt++) a.local(`xp${tt}`, 'i32').local(`xq${tt}`, 'i32').local(`xd${tt}`, 'f32');
  for (let rr = 0; rr < R; rr++) {
    for (let tt = 0; tt < T; tt++) a.local(`isum${rr}${tt}`, 'v128').local(`acc${rr}${tt}`, 'v128').local(`accm${rr}${tt}`, 'f32');
  }
  // slot bytes: uB = 2·cols (int16 values) + 4·nsb (dw) [+ 4·nsb (m)]
  a.get('cols').i32(1).op(OP.i32_shl).set('uB');
  a.get('uB').get('nsb').i32(spec.mins ? 3 : 2).op(OP.i32_shl).op(OP.i32_add).set('slot');
  a.get('n').get('n').i32(T - 1).op(OP.i32_and).op(OP.i32_sub).set('nT');
  a.get('rows').get('rows').i32(R - 1).op(OP.i32_and).op(OP.i32_sub).set('rowsR');
  spec.setup(a, INT_EMIT.helpers(a));
}

/** Unpacks weight row r + rr into scratch slot rr. */
function unpack(a: Asm, spec: IntKernelSpec, rr: number): void {
  const h = INT_EMIT.helpers(a);
  a.get('w').get('r').i32(rr).op(OP.i32_add).get('wRow').op(OP.i32_mul).op(OP.i32_add).set('wp');
  a.get('scratch').get('slot').i32(rr).op(OP.i32_mul).op(OP.i32_add).tee(`sl${rr}`).set('uq');
  a.i32(0).set('s4');
  a.for('sb', 0, 'nsb', 1, () => {
    spec.body(a, (e) => void a.get('uq').get('wv').vstore(2 * e), h);
    // dw of block sb at sl + uB + 4·sb
    a.get(`sl${rr}`).get('uB').op(OP.i32_add).get('s4').op(OP.i32_add);
    h.half(spec.dOffset);
    a.mem(OP.f32_store, 0, 2);
    if (spec.mins) {
      // m of block sb at sl + uB + 4·nsb + 4·sb
      a.get(`sl${rr}`).get('uB').op(OP.i32_add).get('nsb').i32(2).op(OP.i32_shl).op(OP.i32_add).get('s4').op(OP.i32_add);
      h.half(2);
      a.mem(OP.f32_store, 0, 2);
    }
    a.get('wp').i32(spec.bytes).op(OP.i32_add).set('wp');
    a.get('uq').i32(2 * spec.block).op(OP.i32_add).set('uq');
    a.get('s4').i32(4).op(OP.i32_add).set('s4');
  });
}

/** isum[rr][tt] += dot(w_rr, x_tt) over one block's 8-value chunks (int16 weights, int8 activations widened). */
function dots(a: Asm, spec: IntKernelSpec, nr: number, nt: number): void {
  for (let u = 0; u < spec.block / 8; u++) {
    for (let rr = 0; rr < nr; rr++) a.get(`up${rr}`).vload(16 * u).set(`w${rr}`);
    for (let tt = 0; tt < nt; tt++) {
      a.get(`xq${tt}`).vloadOp(SIMD.v128_load8x8_s, 8 * u).set('xv');
      for (let rr = 0; rr < nr; rr++) {
        const s = `isum${rr}${tt}`;
        a.get(s).get(`w${rr}`).get('xv').simd(SIMD.i32x4_dot_i16x8_s).simd(SIMD.i32x4_add).set(s);
      }
    }
  }
}

/** acc += f32(isum)·(dw·xd) and [Q4_1/Q5_1] accm += m·s, for one (row, token). */
function scale(a: Asm, spec: IntKernelSpec, rr: number, tt: number): void {
  const acc = `acc${rr}${tt}`;
  a.get(acc).get(`isum${rr}${tt}`).simd(SIMD.f32x4_convert_i32x4_s).get(`dw${rr}`).get(`xd${tt}`).op(OP.f32_mul).simd(SIMD.f32x4_splat);
  a.simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(acc);
  if (!spec.mins) return;
  // accm += m · s
  a.get(`sl${rr}`).get('uB').op(OP.i32_add).get('nsb').i32(2).op(OP.i32_shl).op(OP.i32_add).get('s4').op(OP.i32_add).mem(OP.f32_load, 0, 2);
  a.get(`xp${tt}`).get('sOff').op(OP.i32_add).get('s4').op(OP.i32_add).mem(OP.f32_load, 0, 2).op(OP.f32_mul);
  a.get(`accm${rr}${tt}`).op(OP.f32_add).set(`accm${rr}${tt}`);
}

/** nr unpacked rows (slots) × nt token rows from t. */
function micro(a: Asm, spec: IntKernelSpec, nr: number, nt: number): void {
  for (let tt = 0; tt < nt; tt++) a.get('x').get('t').i32(tt).op(OP.i32_add).get('xs').op(OP.i32_mul).op(OP.i32_add).tee(`xp${tt}`).set(`xq${tt}`);
  for (let rr = 0; rr < nr; rr++) {
    a.get('scratch').get('slot').i32(rr).op(OP.i32_mul).op(OP.i32_add).tee(`sl${rr}`).set(`up${rr}`);
    for (let tt = 0; tt < nt; tt++) a.simd(0x0c, ...INT_EMIT.zero).set(`acc${rr}${tt}`).f32(0).set(`accm${rr}${tt}`);
  }
  a.i32(0).set('s4');
  a.for('sb', 0, 'nsb', 1, () => {
    for (let rr = 0; rr < nr; rr++) for (let tt = 0; tt < nt; tt++) a.simd(0x0c, ...INT_EMIT.zero).set(`isum${rr}${tt}`);
    dots(a, spec, nr, nt);
    for (let rr = 0; rr < nr; rr++) a.get(`sl${rr}`).get('uB').op(OP.i32_add).get('s4').op(OP.i32_add).mem(OP.f32_load, 0, 2).set(`dw${rr}`);
    for (let tt = 0; tt < nt; tt++) a.get(`xp${tt}`).get('dOff').op(OP.i32_add).get('s4').op(OP.i32_add).mem(OP.f32_load, 0, 2).set(`xd${tt}`);
    for (let rr = 0; rr < nr; rr++) for (let tt = 0; tt < nt; tt++) scale(a, spec, rr, tt);
    for (let rr = 0; rr < nr; rr++) a.get(`up${rr}`).i32(2 * spec.block).op(OP.i32_add).set(`up${rr}`);
    for (let tt = 0; tt < nt; tt++) a.get(`xq${tt}`).i32(spec.block).op(OP.i32_add).set(`xq${tt}`);
    a.get('s4').i32(4).op(OP.i32_add).set('s4');
  });
  for (let rr = 0; rr < nr; rr++) for (let tt = 0; tt < nt; tt++) store(a, spec, rr, tt);
}

/** out[(t + tt)·ldo + r + rr] = (l0 + l1) + (l2 + l3) [+ accm]. */
function store(a: Asm, spec: IntKernelSpec, rr: number, tt: number): void {
  const v = `acc${rr}${tt}`;
  a.get('out').get('t').i32(tt).op(OP.i32_add).get('ldo').op(OP.i32_mul).get('r').op(OP.i32_add).i32(rr).op(OP.i32_add).i32(2).op(OP.i32_shl).op(OP.i32_add);
  a.get(v).simd(SIMD.f32x4_extract_lane, 0).get(v).simd(SIMD.f32x4_extract_lane, 1).op(OP.f32_add);
  a.get(v).simd(SIMD.f32x4_extract_lane, 2).get(v).simd(SIMD.f32x4_extract_lane, 3).op(OP.f32_add).op(OP.f32_add);
  if (spec.mins) a.get(`accm${rr}${tt}`).op(OP.f32_add);
  a.mem(OP.f32_store, 0, 2);
}

function gemmKernel(spec: IntKernelSpec): KernelSource {
  return {
    name: spec.name.replace('qdot', 'qgemm'),
    params: INT_EMIT.params,
    exported: true,
    emit(a) {
      declare(a, spec);
      a.for('r', 0, 'rowsR', R, () => {
        for (let rr = 0; rr < R; rr++) unpack(a, spec, rr);
        a.for('t', 0, 'nT', T, () => micro(a, spec, R, T));
        a.for('t', 'nT', 'n', 1, () => micro(a, spec, R, 1));
      });
      a.for('r', 'rowsR', 'rows', 1, () => {
        unpack(a, spec, 0);
        a.for('t', 0, 'n', 1, () => micro(a, spec, 1, 1));
      });
    },
  };
}

/** The multi-token integer-dot kernels (qgemm_<type>), one per weight format. */
export const INT_GEMM_SOURCES: readonly KernelSource[] = INT_BASIC_SPECS.map(gemmKernel);
