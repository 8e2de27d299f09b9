import { type KernelSource, OP, SIMD } from './asm.js';

/**
 * Attention pieces for one query row and one head over a contiguous run of cached positions (the keys of
 * one KV head are contiguous, `d` floats apart; d a multiple of 8):
 *   attn_scores: s[j] = (q · k_j) · scale for j < len
 *   attn_wsum:   out[i] = Σ_j p[j] · v_j[i], j in increasing order
 * The softmax between them runs in TypeScript (float64 exp).
 */

const V_ZERO = Array<number>(16).fill(0);

const attnScores: KernelSource = {
  name: 'attn_scores',
  params: [['q', 'i32'], ['k', 'i32'], ['s', 'i32'], ['len', 'i32'], ['d', 'i32'], ['scale', 'f32']],
  exported: true,
  emit(a) {
    a.local('j', 'i32').local('i', 'i32').local('rowBytes', 'i32').local('a0', 'v128').local('a1', 'v128');
    a.get('d').i32(2).op(OP.i32_shl).set('rowBytes');
    a.for('j', 0, 'len', 1, () => {
      a.simd(0x0c, ...V_ZERO).set('a0').simd(0x0c, ...V_ZERO).set('a1');
      a.for('i', 0, 'rowBytes', 32, () => {
        for (const [acc, off] of [['a0', 0], ['a1', 16]] as const) {
          a.get(acc).get('q').get('i').op(OP.i32_add).vload(off).get('k').get('i').op(OP.i32_add).vload(off).simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(acc);
        }
      });
      a.get('a0').get('a1').simd(SIMD.f32x4_add).set('a0');
      a.get('s').get('j').i32(2).op(OP.i32_shl).op(OP.i32_add);
      a.get('a0').simd(SIMD.f32x4_extract_lane, 0).get('a0').simd(SIMD.f32x4_extract_lane, 1).op(OP.f32_add);
      a.get('a0').simd(SIMD.f32x4_extract_lane, 2).get('a0').simd(SIMD.f32x4_extract_lane, 3).op(OP.f32_add);
      a.op(OP.f32_add).get('scale').op(OP.f32_mul).mem(OP.f32_store, 0, 2);
      a.get('k').get('rowBytes').op(OP.i32_add).set('k');
    });
  },
};

const attnWsum: KernelSource = {
  name: 'attn_wsum',
  params: [['p', 'i32'], ['v', 'i32'], ['out', 'i32'], ['len', 'i32'], ['d', 'i32']],
  exported: true,
  emit(a) {
    a.local('j', 'i32').local('c', 'i32').local('rowBytes', 'i32').local('vp', 'i32').local('w', 'v128').local('a0', 'v128').local('a1', 'v128');
    a.get('d').i32(2).op(OP.i32_shl).set('rowBytes');
    a.for('c', 0, 'rowBytes', 32, () => {
      a.simd(0x0c, ...V_ZERO).set('a0').simd(0x0c, ...V_ZERO).set('a1');
      a.get('v').get('c').op(OP.i32_add).set('vp');
      a.for('j', 0, 'len', 1, () => {
        a.get('p').get('j').i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 0, 2).simd(SIMD.f32x4_splat).set('w');
        a.get('a0').get('w').get('vp').vload(0).simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set('a0');
        a.get('a1').get('w').get('vp').vload(16).simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set('a1');
        a.get('vp').get('rowBytes').op(OP.i32_add).set('vp');
      });
      a.get('out').get('c').op(OP.i32_add).get('a0').vstore(0);
      a.get('out').get('c').op(OP.i32_add).get('a1').vstore(16);
    });
  },
};

export const ATTENTION_SOURCES: readonly KernelSource[] = [attnScores, attnWsum];
