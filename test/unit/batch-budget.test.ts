/** KV budget arithmetic (src/model/batch-budget.ts), with figures worked out by hand for real model shapes. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTEXT, DEFAULT_KV_BUDGET, DEFAULT_PARALLEL, KvBudgetError, kvBytesPerSlot, parseByteSize, slotCount } from '../../src/model/batch-budget.js';
import type { ArchConfig } from '../../src/tensor/bundle.js';

function arch(num_layers: number, num_kv_heads: number, head_dim: number): ArchConfig {
  return {
    architecture: 'qwen2', hidden_size: 896, num_layers, num_heads: 14, num_kv_heads, head_dim, vocab_size: 151936, intermediate_size: 4864,
    rope_theta: 1e6, rms_norm_eps: 1e-6, max_position_embeddings: 32768, tie_word_embeddings: true, attention_bias: true,
  };
}

// Qwen2.5-0.5B: 24 layers, 2 KV heads of 64. One slot of 2048 positions: 2·24·2·64·2048·4 = 50,331,648 B = 48 MiB.
const qwen05 = arch(24, 2, 64);
// Qwen2.5-Coder-7B: 28 layers, 4 KV heads of 128: 2·28·4·128·2048·4 = 234,881,024 B = 224 MiB.
const qwen7 = arch(28, 4, 128);

describe('parseByteSize', () => {
  it('reads binary units in either case, with an optional B or iB, and plain byte counts', () => {
    const cases: [string, number][] = [
      ['256M', 268_435_456], ['1G', 1_073_741_824], ['512k', 524_288], ['512K', 524_288], ['2T', 2_199_023_255_552],
      ['1048576', 1_048_576], ['1', 1], ['4KB', 4096], ['4kib', 4096], ['0.5M', 524_288], [' 3 G ', 3_221_225_472], ['100B', 100],
    ];
    for (const [text, bytes] of cases) expect(parseByteSize(text), text).toBe(bytes);
  });

  it('rounds a fractional byte count down', () => {
    expect(parseByteSize('1.5')).toBe(1);
    expect(parseByteSize('0.001K')).toBe(1); // 1.024 bytes
  });

  it('refuses junk, negative and zero sizes', () => {
    for (const text of ['', 'M', '-1M', '1.5.2G', '1e6', '1,5G', '12X', '1MM', 'Infinity', '0x10']) expect(() => parseByteSize(text), text).toThrow(/expected a size/);
    for (const text of ['0', '0M', '0.0001K']) expect(() => parseByteSize(text), text).toThrow(/must be positive/);
  });
});

describe('slotCount', () => {
  it('[ob:batch-slots-from-budget] bytes per slot is 2·layers·kvHeads·headDim·ctx·4', () => {
    expect(kvBytesPerSlot(qwen05, 2048)).toBe(50_331_648);
    expect(kvBytesPerSlot(qwen7, 2048)).toBe(234_881_024);
    expect(kvBytesPerSlot(qwen05, 1)).toBe(24_576);
  });

  it('[ob:batch-slots-from-budget] the defaults give ⌊512 MiB / slot⌋ slots, capped by --parallel', () => {
    expect([DEFAULT_KV_BUDGET, DEFAULT_PARALLEL, DEFAULT_CONTEXT]).toEqual([536_870_912, 16, 2048]);
    expect(slotCount(qwen05, DEFAULT_CONTEXT, DEFAULT_KV_BUDGET, DEFAULT_PARALLEL)).toBe(10); // 512 / 48 = 10.67
    expect(slotCount(qwen7, DEFAULT_CONTEXT, DEFAULT_KV_BUDGET, DEFAULT_PARALLEL)).toBe(2); // 512 / 224 = 2.29
    expect(slotCount(qwen05, 512, DEFAULT_KV_BUDGET, DEFAULT_PARALLEL)).toBe(16); // 42 slots of 12 MiB fit, 16 asked
    expect(slotCount(qwen05, 512, DEFAULT_KV_BUDGET, 64)).toBe(42); // 512 / 12 = 42.67
    expect(slotCount(qwen05, 2048, parseByteSize('1G'), 3)).toBe(3);
  });

  it('[ob:batch-slots-from-budget] a budget of exactly one slot gives one; one byte less is a usage error naming both sizes', () => {
    expect(slotCount(qwen7, 2048, 234_881_024, 8)).toBe(1);
    let err: unknown;
    try {
      slotCount(qwen7, 2048, 234_881_023, 8);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvBudgetError);
    expect(err).toBeInstanceOf(RangeError);
    expect(String(err)).toContain('KV budget 224.0 MiB holds no slot: one sequence of 2048 positions needs 224.0 MiB');
    expect(() => slotCount(qwen05, 2048, parseByteSize('1G') * 2, 1)).not.toThrow();
    expect(() => slotCount(qwen7, 32768, parseByteSize('2G'), 1)).toThrow(/needs 3\.50 GiB/); // 224 MiB × 16
  });

  it('refuses a parallel or context length that is not a positive integer (a plain RangeError)', () => {
    for (const [ctx, parallel] of [[2048, 0], [2048, 1.5], [0, 4], [10.5, 4], [-1, 4]] as const) {
      let err: unknown;
      try {
        slotCount(qwen05, ctx, DEFAULT_KV_BUDGET, parallel);
      } catch (e) {
        err = e;
      }
      expect(err, `${ctx} ${parallel}`).toBeInstanceOf(RangeError);
      expect(err).not.toBeInstanceOf(KvBudgetError);
    }
  });
});
