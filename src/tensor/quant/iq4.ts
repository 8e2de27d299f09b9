/**
 * ggml's IQ4_NL (32-value blocks) and IQ4_XS (256-value super-blocks) quantizers, each bound to its contract.
 * The byte-exact emulation of quantize_row_iq4_nl_impl lives in src/tensor/codecs/quantize-iq4.ts. Whatever
 * scale the search keeps, each value ends at the kvalues_iq4nl level nearest x/d, where d is the float32
 * scale before it is stored as f16 (IQ4_NL) or as f16 super-scale × 6-bit multiplier (IQ4_XS); so against the
 * stored grid s·kvalues (s = the decoded scale) a value is at its nearest level up to 2·127·|d − s|, and
 * |d − s| ≤ 2⁻¹¹·|s| + 2⁻²⁵·|l| (half an f16 ulp, normal or subnormal; l = 1 for IQ4_NL, the multiplier for IQ4_XS).
 */
import { defineContract } from '../../contract/index.js';
import { dequantize, quantize } from '../codecs/index.js';
import { iqTableSigned } from '../codecs/iq-grids.js';
import { iq4xsScale } from '../codecs/iq4.js';
import { F16_MAX, finiteWithin, halfAt, wholeBlocks } from './checks.js';

interface Iq4Input {
  x: Float32Array;
  /** llama.cpp importance matrix entry of the tensor: one non-negative weight per column. */
  imatrix?: Float32Array;
}

function pre(blockSize: number): readonly (readonly [string, (i: Iq4Input) => boolean])[] {
  const blocks = wholeBlocks(blockSize), finite = finiteWithin(F16_MAX);
  return [
    [blocks[0], (i) => blocks[1](i.x)],
    [finite[0], (i) => finite[1](i.x)],
    ['importance matrix: whole blocks per row, dividing the values, finite and ≥ 0', ({ x, imatrix }) =>
      !imatrix || (imatrix.length > 0 && imatrix.length % blockSize === 0 && x.length % imatrix.length === 0 && imatrix.every((w) => Number.isFinite(w) && w >= 0))],
  ];
}

/** Distance from v to the nearest level of s·kvalues_iq4nl. */
function nearestDistance(v: number, s: number): number {
  let best = Infinity;
  for (const k of iqTableSigned('kvalues_iq4nl')) best = Math.min(best, Math.abs(v - s * k));
  return best;
}

/**
 * Whether every decoded value y is the level of its 32-value group's grid s·kvalues nearest to x, up to
 * 254·(2⁻¹¹·|s| + 2⁻²⁵·|l|) for the f16 rounding of the scale and 1e-6·(|x| + 127·|s|) for float32 rounding.
 */
function nearestLevels(x: Float32Array, y: Float32Array, scale: (group: number) => [s: number, l: number]): boolean {
  for (let g = 0; g * 32 < x.length; g++) {
    const [s, l] = scale(g);
    const slack = 254 * (2 ** -11 * Math.abs(s) + 2 ** -25 * Math.abs(l));
    for (let i = 32 * g; i < 32 * g + 32; i++) {
      const v = x[i] ?? 0;
      if (!(Math.abs(v - (y[i] ?? 0)) <= nearestDistance(v, s) + slack + 1e-6 * (Math.abs(v) + 127 * Math.abs(s)))) return false;
    }
  }
  return true;
}

const iq4_nlContract = defineContract<Iq4Input, Uint8Array>({
  id: 'quant-iq4_nl-v1',
  equation: 'iq4_nl_block',
  spec: 'per 32-value block: x̂ = d·kvalues_iq4nl[q] with q the level nearest to x/d (d the searched scale, stored as f16)',
  pre: pre(32),
  post: [['every value at its nearest level', ({ x }, bytes) => nearestLevels(x, dequantize('IQ4_NL', bytes, x.length), (g) => [halfAt(bytes, 18 * g), 1])]],
});

const iq4_xsContract = defineContract<Iq4Input, Uint8Array>({
  id: 'quant-iq4_xs-v1',
  equation: 'iq4_xs_superblock',
  spec: 'per 32-value group: x̂ = d·(ls − 32)·kvalues_iq4nl[q] with q the level nearest to x/(d·(ls − 32)) (ls a 6-bit multiplier)',
  pre: pre(256),
  post: [['every value at its nearest level', ({ x }, bytes) => nearestLevels(x, dequantize('IQ4_XS', bytes, x.length), (g) => {
    const o = 136 * Math.floor(g / 8), l = iq4xsScale(bytes, o, g % 8) - 32;
    return [Math.fround(halfAt(bytes, o) * l), l];
  })]],
});

/** IQ4_NL blocks, byte for byte as ggml's quantize_iq4_nl (with `imatrix`: llama-quantize --imatrix). */
export function quantizeIQ4_NL(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return iq4_nlContract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('IQ4_NL', x, imatrix));
}

/** IQ4_XS super-blocks, byte for byte as ggml's quantize_iq4_xs (with `imatrix`: llama-quantize --imatrix). */
export function quantizeIQ4_XS(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return iq4_xsContract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('IQ4_XS', x, imatrix));
}
