import { type Asm, type KernelSource, OP, SIMD } from './asm.js';
import { INT_EMIT } from './int-spec.js';

/**
 * Integer-dot products against K-quant weights (256-value super-blocks, Q8_K activations), on int8 vectors:
 * each 16-value chunk of unsigned weight quants u (0..63, so a valid i7 operand) meets the token's 16 int8
 * activations in one i16x8.relaxed_dot_i8x16_i7x16_s (pairwise products summed to int16; where relaxed SIMD
 * is missing or wrong, extmul_low + extmul_high + add, which gives other int16 lanes with the same total).
 * Chunks sharing an integer scale are added in int16 (no overflow: ≤ 2 chunks of |u| ≤ 15, or 1 chunk of
 * |u| ≤ 63, times |x| ≤ 127), then one i32x4.dot_i16x8_s with the splat scale adds them to the int32 sums.
 * The super-block's integer total I (lanes summed, exact) then takes one float32 multiply-add, as in the
 * scalar reference (int-ref.ts), so the result does not depend on how lanes were grouped, on T or on the
 * relaxed/fallback choice. T tokens share each unpacked weight chunk (decode T = 1, prefill T = 4); a token's
 * operations are the same whatever T, so a prefill row equals the decode of that token bit for bit.
 */

interface KSpec {
  readonly type: 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k';
  readonly bytes: number;
  readonly dOffset: number;
  readonly mins: boolean;
  setup(a: Asm): void;
  /**
   * One super-block at `wp`: leaves each chunk's u8 weights in `wv` then calls chunk(e, first); group(push) after
   * the chunks of one scale, `push` pushing that scale in every lane of an int16x8.
   */
  body(a: Asm, chunk: (e: number, first: boolean) => void, group: (pushScale: () => void) => void): void;
  /** Q3_K/Q6_K: pushes the int32x4 that the offset (u − 4, u − 32) takes off the super-block's sums, for token tt. */
  correction?(a: Asm, tt: number): void;
  /** Q2_K/Q4_K/Q5_K: accm{tt} += f32(Σ_j m_j S_j)·(dmin·xd{tt}). */
  tokenMins?(a: Asm, tt: number): void;
}

const K1 = 0x3f3f3f3f;
const K2 = 0x0f0f0f0f;
const K3 = 0x03030303;

/** ggml's kmask unpacking of the 12 scale bytes at wp + 4: scales = bytes of u0, u1, mins = bytes of u2, u3, as int16x8 in sc16 and mv16 (a SIMD form of this measured no faster). */
function unpackScales(a: Asm): void {
  const w = (i: number): Asm => a.get('wp').mem(OP.i32_load, 4 + 4 * i, 0);
  w(2).i32(4).op(OP.i32_shr_u).i32(K2).op(OP.i32_and);
  w(1).i32(6).op(OP.i32_shr_u).i32(K3).op(OP.i32_and).i32(4).op(OP.i32_shl).op(OP.i32_or).set('u3');
  w(1).i32(K1).op(OP.i32_and).set('u2');
  w(2).i32(K2).op(OP.i32_and);
  w(0).i32(6).op(OP.i32_shr_u).i32(K3).op(OP.i32_and).i32(4).op(OP.i32_shl).op(OP.i32_or).set('u1');
  w(0).i32(K1).op(OP.i32_and).set('u0');
  a.get('u2').simd(SIMD.i32x4_splat).get('u3').simd(SIMD.i32x4_replace_lane, 1).simd(SIMD.i16x8_extend_low_i8x16_u).set('mv16');
  a.get('u0').simd(SIMD.i32x4_splat).get('u1').simd(SIMD.i32x4_replace_lane, 1).simd(SIMD.i16x8_extend_low_i8x16_u).set('sc16');
}

/** Pushes lane j of the int16x8 in `v` broadcast to every lane (one shuffle). */
function broadcast16(a: Asm, v: string, j: number): void {
  const lanes = Array.from({ length: 16 }, (_, i) => 2 * j + (i & 1));
  a.get(v).get(v).simd(SIMD.i8x16_shuffle, ...lanes);
}

/**
 * Q4_K / Q5_K: d, dmin (f16), 12 bytes of 6-bit scales and mins, [Q5_K: 32 bytes qh,] 128 bytes of nibbles at
 * `qs`: value 64i + l is the low nibble of byte 32i + l, value 64i + 32 + l its high nibble (l < 32), plus
 * (Q5_K) 16 where bit j of qh[l] is set, j = its sub-block; sub-block j has scale sc_j and min m_j.
 */
function q45K(type: 'q4_k' | 'q5_k', bytes: number, qs: number, qh: number | undefined): KSpec {
  return {
    type, bytes, dOffset: 0, mins: true,
    setup(a) {
      splat8(a, 'c15', 15);
      if (qh !== undefined) splat8(a, 'c16', 16).local('H0', 'v128').local('H1', 'v128');
      a.local('A', 'v128').local('B', 'v128').local('mv16', 'v128').local('sc16', 'v128');
      for (let j = 0; j < 4; j++) a.local(`u${j}`, 'i32');
    },
    body(a, chunk, group) {
      unpackScales(a);
      if (qh !== undefined) a.get('wp').vload(qh).set('H0').get('wp').vload(qh + 16).set('H1');
      for (let i = 0; i < 4; i++) {
        a.get('wp').vload(qs + 32 * i).set('A');
        a.get('wp').vload(qs + 16 + 32 * i).set('B');
        for (let hi = 0; hi < 2; hi++) {
          const j = 2 * i + hi;
          ['A', 'B'].forEach((v, k) => {
            a.get(v);
            if (hi) a.i32(4).simd(SIMD.i16x8_shr_u);
            a.get('c15').simd(SIMD.v128_and);
            if (qh !== undefined) {
              // bit j of qh moved to bit 4
              a.get(`H${k}`);
              if (j < 4) a.i32(4 - j).simd(SIMD.i16x8_shl);
              if (j > 4) a.i32(j - 4).simd(SIMD.i16x8_shr_u);
              a.get('c16').simd(SIMD.v128_and).simd(SIMD.v128_or);
            }
            a.set('wv');
            chunk(64 * i + 32 * hi + 16 * k, k === 0);
          });
          group(() => broadcast16(a, 'sc16', j));
        }
      }
    },
    tokenMins: q45Mins,
  };
}

/** Q4_K/Q5_K mins: accm{tt} += f32(Σ_j m_j S_j)·(dmin·xd{tt}), S_j the token's sums of 32 at xp + sOff + 16·sb. */
function q45Mins(a: Asm, tt: number): void {
  // Σ_j m_j · S_j: the token's 8 int16 sums of 32 at xp + sOff + 16·sb (so = 4·sb), one dot with the mins
  a.get('mv16').get(`xp${tt}`).get('sOff').op(OP.i32_add).get('so').i32(2).op(OP.i32_shl).op(OP.i32_add).vload(0);
  a.simd(SIMD.i32x4_dot_i16x8_s);
  addMins(a, tt, 2);
}

/** accm{tt} += f32(Σ lanes of the int32x4 on the stack) · (dmin · xd{tt}), dmin the f16 at wp + dminOffset. */
function addMins(a: Asm, tt: number, dminOffset: number): void {
  hsum(a);
  a.op(OP.f32_convert_i32_s);
  INT_EMIT.helpers(a).half(dminOffset);
  a.get(`xd${tt}`).op(OP.f32_mul).op(OP.f32_mul).get(`accm${tt}`).op(OP.f32_add).set(`accm${tt}`);
}

/** Declares local `name` as an int8x16 splat of `v`. */
function splat8(a: Asm, name: string, v: number): Asm {
  return a.local(name, 'v128').i32(v).simd(SIMD.i8x16_splat).set(name);
}

/**
 * Q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, d (f16). In half n, value 128n + 32g + l is
 * u = nibble (g >> 1) of ql[64n + 32(g & 1) + l] | bits 2g..2g+1 of qh[128 + 32n + l] << 4, w = sc_c·(u − 32),
 * c = its 16-value chunk (8n + 2g + l/16), whose scale is byte 192 + c.
 */
const Q6_K: KSpec = {
  type: 'q6_k', bytes: 210, dOffset: 208, mins: false,
  setup(a) {
    splat8(a, 'c15', 15);
    splat8(a, 'c48', 48);
    for (const v of ['A0', 'A1', 'B0', 'B1', 'H0', 'H1', 'S0', 'S1', 'sv']) a.local(v, 'v128');
  },
  body(a, chunk, group) {
    a.get('wp').vloadOp(SIMD.v128_load8x8_s, 192).set('S0').get('wp').vloadOp(SIMD.v128_load8x8_s, 200).set('S1');
    for (let n = 0; n < 2; n++) {
      for (let k = 0; k < 2; k++) {
        a.get('wp').vload(64 * n + 16 * k).set(`A${k}`);
        a.get('wp').vload(64 * n + 32 + 16 * k).set(`B${k}`);
        a.get('wp').vload(128 + 32 * n + 16 * k).set(`H${k}`);
      }
      for (let g = 0; g < 4; g++) {
        for (let k = 0; k < 2; k++) {
          q6Values(a, g, k);
          chunk(128 * n + 32 * g + 16 * k, true);
          group(() => broadcast16(a, `S${n}`, 2 * g + k));
        }
      }
    }
  },
  correction(a, tt) {
    // 32 · Σ_c sc_c · X_c: the 16 int8 scales against the token's sums of 16
    a.get('wp').vload(192).set('sv');
    chunkDot(a, tt);
    a.i32(5).simd(SIMD.i32x4_shl);
  },
};

/** The 16 values u (0..63) of Q6_K group g, chunk k, into `wv`: a nibble of the ql bytes in A/B | 2 bits of qh (H) << 4. */
function q6Values(a: Asm, g: number, k: number): void {
  a.get(`${g & 1 ? 'B' : 'A'}${k}`);
  if (g >> 1) a.i32(4).simd(SIMD.i16x8_shr_u);
  a.get('c15').simd(SIMD.v128_and);
  // bits 2g, 2g + 1 of qh to bits 4, 5 (16-bit shifts: the mask drops what crosses from the neighbour byte)
  a.get(`H${k}`);
  if (g < 2) a.i32(4 - 2 * g).simd(SIMD.i16x8_shl);
  if (g === 3) a.i32(2).simd(SIMD.i16x8_shr_u);
  a.get('c48').simd(SIMD.v128_and).simd(SIMD.v128_or).set('wv');
}

/** Pushes the token's 16 int16 sums of 16 values, lanes 8h..8h+7, of super-block so/4 (at xp + s16Off + 32·sb). */
function sums16(a: Asm, tt: number, h: number): void {
  a.get(`xp${tt}`).get('s16Off').op(OP.i32_add).get('so').i32(3).op(OP.i32_shl).op(OP.i32_add).vload(16 * h);
}

/** Pushes Σ_c v_c·X_c (int32x4) for the int8x16 v in local `sv` (one per 16-value chunk c) and token tt's sums X_c. */
function chunkDot(a: Asm, tt: number): void {
  a.get('sv').simd(SIMD.i16x8_extend_low_i8x16_s);
  sums16(a, tt, 0);
  a.simd(SIMD.i32x4_dot_i16x8_s);
  a.get('sv').simd(SIMD.i16x8_extend_high_i8x16_s);
  sums16(a, tt, 1);
  a.simd(SIMD.i32x4_dot_i16x8_s).simd(SIMD.i32x4_add);
}

/**
 * The 2-bit field of Q2_K/Q3_K chunk c = 8n + 2j + h (values 128n + 32j + 16h + l): bits 2j, 2j + 1 of
 * qs[32n + 16h + l], the qs bytes being in locals Q0, Q1 (of half n).
 */
function twoBits(a: Asm, j: number, h: number): void {
  a.get(`Q${h}`);
  if (j > 0) a.i32(2 * j).simd(SIMD.i16x8_shr_u);
  a.get('c3').simd(SIMD.v128_and);
}

/** block_q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }: w = d·(sc_c & 15)·u − dmin·(sc_c >> 4), u 2 bits. */
const Q2_K: KSpec = {
  type: 'q2_k', bytes: 84, dOffset: 80, mins: true,
  setup(a) {
    splat8(a, 'c3', 3);
    a.local('Q0', 'v128').local('Q1', 'v128').local('sv', 'v128').local('S0', 'v128').local('S1', 'v128');
    splat8(a, 'c15', 15);
  },
  body(a, chunk, group) {
    a.get('wp').vload(0).get('c15').simd(SIMD.v128_and).set('sv');
    a.get('sv').simd(SIMD.i16x8_extend_low_i8x16_u).set('S0').get('sv').simd(SIMD.i16x8_extend_high_i8x16_u).set('S1');
    for (let n = 0; n < 2; n++) {
      a.get('wp').vload(16 + 32 * n).set('Q0').get('wp').vload(32 + 32 * n).set('Q1');
      for (let j = 0; j < 4; j++) {
        for (let h = 0; h < 2; h++) {
          twoBits(a, j, h);
          a.set('wv');
          chunk(128 * n + 32 * j + 16 * h, true);
          group(() => broadcast16(a, `S${n}`, 2 * j + h));
        }
      }
    }
  },
  tokenMins(a, tt) {
    a.get('wp').vload(0).i32(4).simd(SIMD.i16x8_shr_u).get('c15').simd(SIMD.v128_and).set('sv');
    chunkDot(a, tt);
    addMins(a, tt, 82);
  },
};

/**
 * block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }: w = d·sc_c·(u − 4), u = the 2-bit field | 4
 * where bit 4n + j of hmask[16h + l] is set; sc_c the 6-bit scales (ggml's kmask shuffle of the 12 bytes) − 32.
 */
const Q3_K: KSpec = {
  type: 'q3_k', bytes: 110, dOffset: 108, mins: false,
  setup(a) {
    splat8(a, 'c3', 3);
    splat8(a, 'c4', 4);
    splat8(a, 'c32', 32);
    for (const v of ['Q0', 'Q1', 'H0', 'H1', 'sv', 'S0', 'S1']) a.local(v, 'v128');
    a.local('tmp', 'i32');
  },
  body(a, chunk, group) {
    // the 16 scale bytes (biased by 32) into sv, as ggml's aux words 0..3
    const w = (i: number): Asm => a.get('wp').mem(OP.i32_load, 96 + 4 * i, 0);
    w(2).set('tmp');
    const word = (src: number, shift: number, tshift: number): void => {
      w(src);
      if (shift) a.i32(shift).op(OP.i32_shr_u);
      a.i32(K2).op(OP.i32_and).get('tmp');
      if (tshift) a.i32(tshift).op(OP.i32_shr_u);
      a.i32(K3).op(OP.i32_and).i32(4).op(OP.i32_shl).op(OP.i32_or);
    };
    word(0, 0, 0);
    a.simd(SIMD.i32x4_splat);
    word(1, 0, 2);
    a.simd(SIMD.i32x4_replace_lane, 1);
    word(0, 4, 4);
    a.simd(SIMD.i32x4_replace_lane, 2);
    word(1, 4, 6);
    a.simd(SIMD.i32x4_replace_lane, 3).get('c32').simd(SIMD.i8x16_sub).set('sv');
    a.get('sv').simd(SIMD.i16x8_extend_low_i8x16_s).set('S0').get('sv').simd(SIMD.i16x8_extend_high_i8x16_s).set('S1');
    a.get('wp').vload(0).set('H0').get('wp').vload(16).set('H1');
    for (let n = 0; n < 2; n++) {
      a.get('wp').vload(32 + 32 * n).set('Q0').get('wp').vload(48 + 32 * n).set('Q1');
      for (let j = 0; j < 4; j++) {
        const b = 4 * n + j;
        for (let h = 0; h < 2; h++) {
          twoBits(a, j, h);
          // bit b of hmask moved to bit 2
          a.get(`H${h}`);
          if (b < 2) a.i32(2 - b).simd(SIMD.i16x8_shl);
          if (b > 2) a.i32(b - 2).simd(SIMD.i16x8_shr_u);
          a.get('c4').simd(SIMD.v128_and).simd(SIMD.v128_or).set('wv');
          chunk(128 * n + 32 * j + 16 * h, true);
          group(() => broadcast16(a, `S${n}`, 2 * j + h));
        }
      }
    }
  },
  correction(a, tt) {
    // 4 · Σ_c sc_c · X_c
    chunkDot(a, tt);
    a.i32(2).simd(SIMD.i32x4_shl);
  },
};

/** i32x4 on the stack → the sum of its lanes (i32), via local `hv`. */
function hsum(a: Asm): void {
  a.set('hv');
  for (let l = 0; l < 4; l++) {
    a.get('hv').simd(SIMD.i32x4_extract_lane, l);
    if (l > 0) a.op(OP.i32_add);
  }
}

function declare(a: Asm, spec: KSpec, T: number): void {
  INT_EMIT.geometry(a, { block: 256, bytes: spec.bytes, k: true });
  a.local('r', 'i32').local('t', 'i32').local('nT', 'i32').local('sb', 'i32').local('wp', 'i32').local('so', 'i32');
  a.local('wv', 'v128').local('xv', 'v128').local('hv', 'v128').local('scv', 'v128').local('dw', 'f32');
  for (let tt = 0; tt < T; tt++) {
    a.local(`xp${tt}`, 'i32').local(`xq${tt}`, 'i32').local(`p${tt}`, 'v128').local(`isum${tt}`, 'v128');
    a.local(`acc${tt}`, 'f32').local(`accm${tt}`, 'f32').local(`xd${tt}`, 'f32');
  }
  a.get('n').get('n').i32(T).op(0x70).op(OP.i32_sub).set('nT');
  spec.setup(a);
}

/** Pushes the int16 pairwise products of x (int8, local xv) and the weight chunk (u8 ≤ 127, local wv). */
function dot8(a: Asm, relaxed: boolean): void {
  if (relaxed) {
    a.get('xv').get('wv').simd(SIMD.i16x8_relaxed_dot_i8x16_i7x16_s);
    return;
  }
  a.get('xv').get('wv').simd(SIMD.i16x8_extmul_low_i8x16_s);
  a.get('xv').get('wv').simd(SIMD.i16x8_extmul_high_i8x16_s).simd(SIMD.i16x8_add);
}

/** Weight row r against T token rows from t. */
function micro(a: Asm, spec: KSpec, T: number, relaxed: boolean): void {
  for (let tt = 0; tt < T; tt++) {
    a.get('x').get('t').i32(tt).op(OP.i32_add).get('xs').op(OP.i32_mul).op(OP.i32_add).tee(`xp${tt}`).set(`xq${tt}`);
    a.f32(0).set(`acc${tt}`).f32(0).set(`accm${tt}`);
  }
  a.get('w').get('r').get('wRow').op(OP.i32_mul).op(OP.i32_add).set('wp');
  a.i32(0).set('so');
  a.for('sb', 0, 'nsb', 1, () => {
    for (let tt = 0; tt < T; tt++) a.simd(0x0c, ...INT_EMIT.zero).set(`isum${tt}`);
    spec.body(a, (e, first) => {
      for (let tt = 0; tt < T; tt++) {
        a.get(`xq${tt}`).vload(e).set('xv');
        if (!first) a.get(`p${tt}`);
        dot8(a, relaxed);
        if (!first) a.simd(SIMD.i16x8_add);
        a.set(`p${tt}`);
      }
    }, (pushScale) => {
      pushScale();
      a.set('scv');
      for (let tt = 0; tt < T; tt++) a.get(`isum${tt}`).get(`p${tt}`).get('scv').simd(SIMD.i32x4_dot_i16x8_s).simd(SIMD.i32x4_add).set(`isum${tt}`);
    });
    INT_EMIT.helpers(a).half(spec.dOffset);
    a.set('dw');
    for (let tt = 0; tt < T; tt++) {
      a.get(`xp${tt}`).get('dOff').op(OP.i32_add).get('so').op(OP.i32_add).mem(OP.f32_load, 0, 2).set(`xd${tt}`);
      a.get(`isum${tt}`);
      if (spec.correction) {
        spec.correction(a, tt);
        a.simd(SIMD.i32x4_sub);
      }
      hsum(a);
      a.op(OP.f32_convert_i32_s).get('dw').get(`xd${tt}`).op(OP.f32_mul).op(OP.f32_mul).get(`acc${tt}`).op(OP.f32_add).set(`acc${tt}`);
      spec.tokenMins?.(a, tt);
      a.get(`xq${tt}`).i32(256).op(OP.i32_add).set(`xq${tt}`);
    }
    a.get('wp').i32(spec.bytes).op(OP.i32_add).set('wp');
    a.get('so').i32(4).op(OP.i32_add).set('so');
  });
  for (let tt = 0; tt < T; tt++) {
    a.get('out').get('t').i32(tt).op(OP.i32_add).get('ldo').op(OP.i32_mul).get('r').op(OP.i32_add).i32(2).op(OP.i32_shl).op(OP.i32_add);
    a.get(`acc${tt}`);
    if (spec.mins) a.get(`accm${tt}`).op(OP.f32_sub);
    a.mem(OP.f32_store, 0, 2);
  }
}

function kernel(spec: KSpec, prefix: 'qdot' | 'qgemm', T: number, relaxed: boolean): KernelSource {
  return {
    name: `${prefix}_${spec.type}`,
    params: INT_EMIT.params,
    exported: true,
    emit(a) {
      declare(a, spec, T);
      a.for('r', 0, 'rows', 1, () => {
        a.for('t', 0, 'nT', T, () => micro(a, spec, T, relaxed));
        if (T > 1) a.for('t', 'nT', 'n', 1, () => micro(a, spec, 1, relaxed));
      });
    },
  };
}

/**
 * Tokens per prefill micro-kernel: 4 tokens share each unpacked chunk (measured on the 2048 × 5632 Q4_K/Q6_K
 * products, 8 tokens: T = 3 and 4 alike, both ~1.8× the int16-scratch 2 × 2 kernel on Q4_K).
 */
const PREFILL_T = 4;

const SPECS = [Q2_K, Q3_K, q45K('q4_k', 144, 16, undefined), q45K('q5_k', 176, 48, 16), Q6_K];

/** The K-quant kernels, qdot_<type> (one token at a time) and qgemm_<type> (T tokens share each weight chunk), on relaxed SIMD or without it. */
export const INT_K8_SOURCES: Readonly<Record<'relaxed' | 'plain', readonly KernelSource[]>> = {
  relaxed: SPECS.flatMap((s) => [kernel(s, 'qdot', 1, true), kernel(s, 'qgemm', PREFILL_T, true)]),
  plain: SPECS.flatMap((s) => [kernel(s, 'qdot', 1, false), kernel(s, 'qgemm', PREFILL_T, false)]),
};
