import { type Asm, type KernelSource, OP, SIMD } from './asm.js';
import { INT_BASIC_SPECS } from './int-basic-src.js';
import { INT_EMIT, type IntKernelSpec } from './int-spec.js';

/**
 * Integer-dot products against ggml block weights, SIMD: out[t, r] = Σ over super-blocks of
 * f32(isum) · (dw · dx), where isum (int32x4) accumulates i32x4.dot_i16x8_s of the weight values (times their
 * integer sub-block scale, as int16) with the token's int8 activations (widened to int16 as loaded). Each
 * dot takes 8 consecutive values, so lane k holds the values e with (e mod 8) >> 1 = k: exactly the lanes of
 * the scalar reference (int-ref.ts), which these kernels equal bit for bit. This one-pass form unpacks each
 * weight vector as it goes and serves decode (one token; several tokens take int-gemm-src.ts, whose per-token
 * arithmetic is the same). A spec may let T tokens share each unpacked vector; a token's float operations are
 * the same whatever T. Parameters as the decode kernels' (scratch unused), so the thread pool calls every kind
 * alike; `x` points at the quantized activation rows.
 */

const V_ZERO = INT_EMIT.zero;
const helpers = INT_EMIT.helpers;

function declare(a: Asm, spec: IntKernelSpec): void {
  a.local('r', 'i32').local('t', 'i32').local('nT', 'i32').local('sb', 'i32').local('wp', 'i32');
  a.local('so', 'i32').local('wv', 'v128').local('dw', 'f32').local('xd', 'f32');
  for (let tt = 0; tt < spec.tokens; tt++) {
    a.local(`xp${tt}`, 'i32').local(`xq${tt}`, 'i32').local(`isum${tt}`, 'v128').local(`acc${tt}`, 'v128').local(`accm${tt}`, 'f32');
  }
  INT_EMIT.geometry(a, spec);
  a.get('n').get('n').i32(spec.tokens).op(0x70).op(OP.i32_sub).set('nT');
  spec.setup(a, helpers(a));
}

/** The float32 tail of one block for token tt: acc += f32(isum) · (dw · xd); [Q4_1/Q5_1] accm += m · s. */
function scaleInto(a: Asm, spec: IntKernelSpec, tt: number): void {
  a.get(`xp${tt}`).get('dOff').op(OP.i32_add).get('so').op(OP.i32_add).mem(OP.f32_load, 0, 2).set('xd');
  a.get(`acc${tt}`).get(`isum${tt}`).simd(SIMD.f32x4_convert_i32x4_s);
  a.get('dw').get('xd').op(OP.f32_mul).simd(SIMD.f32x4_splat).simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(`acc${tt}`);
  if (!spec.mins) return;
  helpers(a).half(2);
  a.get(`xp${tt}`).get('sOff').op(OP.i32_add).get('so').op(OP.i32_add).mem(OP.f32_load, 0, 2).op(OP.f32_mul);
  a.get(`accm${tt}`).op(OP.f32_add).set(`accm${tt}`);
}

/** ((l0 + l1) + (l2 + l3)) [+ accm], stored at out[(t + tt)·ldo + r]. */
function store(a: Asm, spec: IntKernelSpec, tt: number): void {
  const v = `acc${tt}`;
  a.get('out').get('t').i32(tt).op(OP.i32_add).get('ldo').op(OP.i32_mul).get('r').op(OP.i32_add).i32(2).op(OP.i32_shl).op(OP.i32_add);
  a.get(v).simd(SIMD.f32x4_extract_lane, 0).get(v).simd(SIMD.f32x4_extract_lane, 1).op(OP.f32_add);
  a.get(v).simd(SIMD.f32x4_extract_lane, 2).get(v).simd(SIMD.f32x4_extract_lane, 3).op(OP.f32_add).op(OP.f32_add);
  if (spec.mins) a.get(`accm${tt}`).op(OP.f32_add);
  a.mem(OP.f32_store, 0, 2);
}

/** Weight row r against T token rows starting at t. */
function micro(a: Asm, spec: IntKernelSpec, T: number): void {
  for (let tt = 0; tt < T; tt++) {
    a.get('x').get('t').i32(tt).op(OP.i32_add).get('xs').op(OP.i32_mul).op(OP.i32_add).tee(`xp${tt}`).set(`xq${tt}`);
    a.simd(0x0c, ...V_ZERO).set(`acc${tt}`).f32(0).set(`accm${tt}`);
  }
  a.get('w').get('r').get('wRow').op(OP.i32_mul).op(OP.i32_add).set('wp');
  a.i32(0).set('so');
  a.for('sb', 0, 'nsb', 1, () => {
    for (let tt = 0; tt < T; tt++) a.simd(0x0c, ...V_ZERO).set(`isum${tt}`);
    superBlock(a, spec, T);
    helpers(a).half(spec.dOffset);
    a.set('dw');
    for (let tt = 0; tt < T; tt++) scaleInto(a, spec, tt);
    for (let tt = 0; tt < T; tt++) a.get(`xq${tt}`).i32(spec.block).op(OP.i32_add).set(`xq${tt}`);
    a.get('wp').i32(spec.bytes).op(OP.i32_add).set('wp');
    a.get('so').i32(4).op(OP.i32_add).set('so');
  });
  for (let tt = 0; tt < T; tt++) store(a, spec, tt);
}

/** One super-block's integer sums into isum{tt}: int16 dots of the pre-scaled weight values with the activations. */
function superBlock(a: Asm, spec: IntKernelSpec, T: number): void {
  spec.body(a, (e) => {
    for (let tt = 0; tt < T; tt++) {
      a.get(`isum${tt}`).get('wv').get(`xq${tt}`).vloadOp(SIMD.v128_load8x8_s, e).simd(SIMD.i32x4_dot_i16x8_s).simd(SIMD.i32x4_add).set(`isum${tt}`);
    }
  }, helpers(a));
}

/** The kernel for 32-value blocks (the K-quants take int-k8-src.ts): every weight row against the token rows, T at a time, then one at a time. */
function intKernel(spec: IntKernelSpec): KernelSource {
  return {
    name: spec.name,
    params: INT_EMIT.params,
    exported: true,
    emit(a) {
      declare(a, spec);
      a.for('r', 0, 'rows', 1, () => {
        a.for('t', 0, 'nT', spec.tokens, () => micro(a, spec, spec.tokens));
        // Stryker disable next-line StringLiteral,ArrowFunction: every INT_BASIC_SPECS entry has tokens = 1, so this one-token tail loop is never emitted
        if (spec.tokens > 1) a.for('t', 'nT', 'n', 1, () => micro(a, spec, 1));
      });
    },
  };
}


/** The integer-dot kernels, one per weight format. */
export const INT_SOURCES: readonly KernelSource[] = INT_BASIC_SPECS.map(intKernel);
