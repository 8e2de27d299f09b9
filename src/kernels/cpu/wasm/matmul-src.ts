import { type Asm, type KernelSource, OP, SIMD } from './asm.js';
import { QUANT_LAYOUT } from './quant-src.js';

/**
 * Matrix-product kernels: out[t, r] = Σ_c W[r, c] · x[t, c] with W row-major. Every output element is summed
 * in one order whatever the blocking: ACC float32x4 accumulators, accumulator a lane l holding the elements
 * c ≡ 4a + l (mod 4·ACC) in increasing c, then a pairwise tree over the accumulators and (l0 + l1) + (l2 + l3).
 * So an n-row product is bit-identical to n one-row products, and a quantized product (rows decoded into a
 * scratch first) is bit-identical to the F32 product of the decoded matrix. cols must be a multiple of 4·ACC.
 */
export const ACC = 1;
/** Weight rows per micro-kernel (a power of two). Measured best on Zen 5 / V8 11 among 2–8 rows × 1–4 tokens × 1–2 accumulators. */
export const ROWS = 4;
/** Activation rows per micro-kernel in batched calls (a power of two). */
const TOKENS = 2;

const V_ZERO = Array<number>(16).fill(0);

/** Per-output accumulators acc_r_t_a, row pointers p_r, activation pointers q_t, scalars. */
function declare(a: Asm): void {
  for (let r = 0; r < ROWS; r++) for (let t = 0; t < TOKENS; t++) for (let k = 0; k < ACC; k++) a.local(`acc${r}_${t}_${k}`, 'v128');
  for (let r = 0; r < ROWS; r++) a.local(`p${r}`, 'i32');
  for (let t = 0; t < TOKENS; t++) a.local(`q${t}`, 'i32');
  for (let r = 0; r < ROWS; r++) a.local(`w${r}`, 'v128');
  a.local('xv', 'v128').local('i', 'i32').local('r', 'i32').local('t', 'i32').local('rowBytes', 'i32').local('rowsR', 'i32').local('nT', 'i32').local('o', 'i32');
}

/** R weight rows (pointers p0..) × T activation rows starting at token t; writes out[t + tt, r + rr]. */
function micro(a: Asm, R: number, T: number): void {
  for (let t = 0; t < T; t++) {
    a.get('x').get('t').i32(t).op(OP.i32_add).get('rowBytes').op(OP.i32_mul).op(OP.i32_add).set(`q${t}`);
  }
  for (let r = 0; r < R; r++) for (let t = 0; t < T; t++) for (let k = 0; k < ACC; k++) a.simd(0x0c, ...V_ZERO).set(`acc${r}_${t}_${k}`);
  a.i32(0).set('i');
  a.loop(() => {
    for (let k = 0; k < ACC; k++) {
      for (let r = 0; r < R; r++) a.get(`p${r}`).get('i').op(OP.i32_add).vload(16 * k).set(`w${r}`);
      for (let t = 0; t < T; t++) {
        a.get(`q${t}`).get('i').op(OP.i32_add).vload(16 * k).set('xv');
        for (let r = 0; r < R; r++) {
          const acc = `acc${r}_${t}_${k}`;
          a.get(acc).get(`w${r}`).get('xv').simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(acc);
        }
      }
    }
    a.get('i').i32(16 * ACC).op(OP.i32_add).tee('i').get('rowBytes').op(OP.i32_lt_s).brIf(0);
  });
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < T; t++) {
      // out address: out + ((t + tt)·ldo + r + rr)·4
      a.get('out').get('t').i32(t).op(OP.i32_add).get('ldo').op(OP.i32_mul).get('r').op(OP.i32_add).i32(r).op(OP.i32_add).i32(2).op(OP.i32_shl).op(OP.i32_add);
      reduce(a, `acc${r}_${t}_`);
      a.mem(OP.f32_store, 0, 2);
    }
  }
}

/** Pairwise tree over the ACC accumulators (into the first), then (l0 + l1) + (l2 + l3) on the stack. */
function reduce(a: Asm, prefix: string): void {
  // Stryker disable next-line AssignmentOperator,BlockStatement: ACC = 1, so the pairwise tree has no level and this loop body never runs
  for (let width = 1; width < ACC; width *= 2) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator,AssignmentOperator,StringLiteral: ACC = 1, so the enclosing loop never runs and this line is never executed
    for (let k = 0; k + width < ACC; k += 2 * width) a.get(`${prefix}${k}`).get(`${prefix}${k + width}`).simd(SIMD.f32x4_add).set(`${prefix}${k}`);
  }
  const v = `${prefix}0`;
  a.get(v).simd(SIMD.f32x4_extract_lane, 0).get(v).simd(SIMD.f32x4_extract_lane, 1).op(OP.f32_add);
  a.get(v).simd(SIMD.f32x4_extract_lane, 2).get(v).simd(SIMD.f32x4_extract_lane, 3).op(OP.f32_add);
  a.op(OP.f32_add);
}

/**
 * The blocked loop nest; `rowPointers(a, R)` sets p0..p(R-1) to the float32 rows r..r+R-1 (direct for F32,
 * decoded into a scratch for block formats).
 */
function emitMatmul(a: Asm, rowPointers: (a: Asm, R: number) => void): void {
  declare(a);
  a.get('cols').i32(2).op(OP.i32_shl).set('rowBytes');
  a.get('rows').get('rows').i32(ROWS - 1).op(OP.i32_and).op(OP.i32_sub).set('rowsR');
  a.get('n').get('n').i32(TOKENS - 1).op(OP.i32_and).op(OP.i32_sub).set('nT');
  a.for('r', 0, 'rowsR', ROWS, () => {
    rowPointers(a, ROWS);
    a.for('t', 0, 'nT', TOKENS, () => micro(a, ROWS, TOKENS));
    a.for('t', 'nT', 'n', 1, () => micro(a, ROWS, 1));
  });
  a.for('r', 'rowsR', 'rows', 1, () => {
    rowPointers(a, 1);
    a.for('t', 0, 'n', 1, () => micro(a, 1, 1));
  });
}

/** `ldo` is the float stride between output rows (≥ rows), so a worker can compute a slice of the rows. */
const F32_PARAMS = [['w', 'i32'], ['x', 'i32'], ['out', 'i32'], ['rows', 'i32'], ['cols', 'i32'], ['n', 'i32'], ['ldo', 'i32']] as const;

const Q_PARAMS = [...F32_PARAMS, ['scratch', 'i32'], ['tab', 'i32']] as const;

/** A block-format product: rows decoded ROWS at a time into `scratch`, then the F32 micro-kernels. */
function quantMatmul(name: string, layout: { decoder: string; blockSize: number; blockBytes: number }): KernelSource {
  return {
    name,
    params: Q_PARAMS,
    exported: true,
    emit(a) {
      a.local('nb', 'i32').local('qRow', 'i32');
      a.get('cols').i32(layout.blockSize).op(0x6d).set('nb');
      a.get('nb').i32(layout.blockBytes).op(OP.i32_mul).set('qRow');
      emitMatmul(a, (b, R) => {
        for (let r = 0; r < R; r++) {
          b.get('scratch').i32(r).get('rowBytes').op(OP.i32_mul).op(OP.i32_add).set(`p${r}`);
          b.get('w').get('r').i32(r).op(OP.i32_add).get('qRow').op(OP.i32_mul).op(OP.i32_add).get(`p${r}`).get('nb').get('tab').call(layout.decoder);
        }
      });
    },
  };
}

export const MATMUL_SOURCES: readonly KernelSource[] = [
  {
    name: 'matmul_f32',
    params: F32_PARAMS,
    exported: true,
    emit(a) {
      emitMatmul(a, (b, R) => {
        for (let r = 0; r < R; r++) b.get('w').get('r').i32(r).op(OP.i32_add).get('rowBytes').op(OP.i32_mul).op(OP.i32_add).set(`p${r}`);
      });
    },
  },
  quantMatmul('matmul_q8_0', QUANT_LAYOUT.Q8_0),
  quantMatmul('matmul_q4_0', QUANT_LAYOUT.Q4_0),
  quantMatmul('matmul_q4_k', QUANT_LAYOUT.Q4_K),
  quantMatmul('matmul_q6_k', QUANT_LAYOUT.Q6_K),
  quantMatmul('matmul_f16', QUANT_LAYOUT.F16),
];
