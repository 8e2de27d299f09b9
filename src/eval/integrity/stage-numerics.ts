import { canDequantize } from '../../tensor/codecs/index.js';
import { DTYPES } from '../../tensor/dtype.js';
import type { TensorRef } from '../../tensor/store.js';
import { badBlockScales, forEachChunk, hasScaleFields } from './tensors.js';
import { Findings, type Stage, type StageOutcome } from './types.js';

export interface TensorStats {
  name: string;
  dtype: string;
  shape: number[];
  min: number;
  max: number;
  mean: number;
  std: number;
  /** Fraction of exact zeros. */
  zeros: number;
  nan: number;
  inf: number;
}

/** Largest finite f16: weights beyond it cannot be exported to F16/GGUF F16 unchanged. */
const F16_MAX = 65504;

function position(shape: readonly number[], i: number): string {
  const cols = shape.length >= 2 ? (shape[shape.length - 1] as number) : 0;
  return cols > 0 ? `element ${i} (row ${Math.floor(i / cols)}, column ${i % cols})` : `element ${i}`;
}

function tensorStats(ref: TensorRef, bytes: Uint8Array): { stats: TensorStats; firstBad: number } {
  let n = 0, nan = 0, inf = 0, zeros = 0, sum = 0, sumSq = 0, firstBad = -1;
  let min = Infinity, max = -Infinity;
  forEachChunk(ref, (v, first) => {
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as number;
      n++;
      if (Number.isNaN(x) || !Number.isFinite(x)) {
        if (Number.isNaN(x)) nan++;
        else inf++;
        if (firstBad < 0) firstBad = first + i;
        continue;
      }
      if (x === 0) zeros++;
      sum += x;
      sumSq += x * x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }, bytes);
  const finite = n - nan - inf;
  const mean = finite > 0 ? sum / finite : 0;
  const std = finite > 0 ? Math.sqrt(Math.max(0, sumSq / finite - mean * mean)) : 0;
  return { stats: { name: ref.name, dtype: ref.dtype, shape: [...ref.shape], min, max, mean, std, zeros: n > 0 ? zeros / n : 0, nan, inf }, firstBad };
}

function scaleFaults(ref: TensorRef, bytes: Uint8Array, f: Findings): void {
  const { faults, count } = badBlockScales(ref.dtype, bytes, 2);
  const bs = DTYPES[ref.dtype].blockSize;
  for (const s of faults) f.fail(`${ref.name}: ${ref.dtype} block ${s.block} (elements ${s.block * bs}..${(s.block + 1) * bs - 1}) has scale ${s.field} = ${s.value}`);
  if (count > faults.length) f.fail(`${ref.name}: ${count - faults.length} more non-finite block scales`);
}

function judge(ref: TensorRef, s: TensorStats, firstBad: number, f: Findings): void {
  if (s.nan + s.inf > 0) f.fail(`${ref.name}: ${s.nan} NaN and ${s.inf} Inf values after dequantization (first at ${position(ref.shape, firstBad)})`);
  else if (ref.shape.length >= 2 && s.zeros === 1) f.fail(`${ref.name}: every element is zero`);
  else if (Math.max(-s.min, s.max) > F16_MAX) f.warn(`${ref.name}: |x| up to ${Math.max(-s.min, s.max).toPrecision(3)} exceeds the f16 range`);
}

export const numericsStage: Stage = {
  id: 8,
  name: 'numerical scan',
  run(ctx): StageOutcome {
    const f = new Findings();
    const store = ctx.bundle().tensors;
    const stats: TensorStats[] = [];
    const t0 = performance.now();
    let bytesRead = 0;
    let values = 0;
    for (const name of store.names()) {
      const ref = store.get(name);
      if (!ref) continue;
      const bytes = ref.read();
      bytesRead += bytes.byteLength;
      if (hasScaleFields(ref.dtype)) scaleFaults(ref, bytes, f);
      if (!canDequantize(ref.dtype)) {
        f.warn(`${name}: ${ref.dtype} has no decoder here; values not scanned`);
        continue;
      }
      const { stats: s, firstBad } = tensorStats(ref, bytes);
      values += s.shape.reduce((a, b) => a * b, 1);
      judge(ref, s, firstBad, f);
      stats.push(s);
    }
    const seconds = Math.max((performance.now() - t0) / 1000, 1e-9);
    const mbPerS = bytesRead / 1e6 / seconds;
    f.note(`${stats.length} tensors, ${values.toLocaleString('en-US')} values, ${(bytesRead / 1e6).toFixed(2)} MB scanned at ${mbPerS.toFixed(0)} MB/s`);
    return f.outcome({ bytes: bytesRead, mb_per_s: mbPerS, tensors: stats });
  },
};
