import { archTraits, isNormGain, layerTensorShapes } from '../../tensor/arch.js';
import type { ArchConfig } from '../../tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { checkShape, readFloats } from './tensors.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

/** RMSNorm gains of trained models stay far below this; larger ones overflow f16 activations. */
const NORM_MAX = 1000;

function mlpShapes(c: ArchConfig, tensors: TensorStore, f: Findings): void {
  const fail = (m: string): void => f.fail(m);
  const mlp = layerTensorShapes(c).filter(([n]) => n.startsWith('mlp.'));
  for (let l = 0; l < c.num_layers; l++) {
    for (const [n, shape] of mlp) checkShape(tensors, `model.layers.${l}.${n}`, shape, fail, n.startsWith('mlp.down') ? ' (hidden_size × intermediate_size)' : ' (intermediate_size × hidden_size)');
  }
}

/** Every RMSNorm gain of the decoder with its length (hidden_size, or head_dim for q/k norms). */
function normGains(c: ArchConfig): [string, number][] {
  const layer = layerTensorShapes(c).filter(([n]) => isNormGain(n));
  const out: [string, number][] = [['model.norm.weight', c.hidden_size]];
  for (let l = 0; l < c.num_layers; l++) for (const [n, s] of layer) out.push([`model.layers.${l}.${n}`, s[0] ?? 0]);
  return out;
}

interface NormSummary {
  min: number;
  max: number;
}

/**
 * A norm gain vector: finite, not all zero (the layer's output would vanish), magnitudes plausible. `offset`
 * is what the model adds to the stored value (1 for Gemma's (1 + w) gains): the checks apply to the sum.
 */
function checkNorm(ref: TensorRef, f: Findings, range: NormSummary, offset: number): void {
  let v: Float32Array;
  try {
    v = readFloats(ref);
  } catch (err) {
    f.warn(`${ref.name}: not decoded (${errorMessage(err)})`);
    return;
  }
  let bad = -1;
  let maxAbs = 0;
  for (let i = 0; i < v.length; i++) {
    const x = (v[i] as number) + offset;
    if (!Number.isFinite(x)) {
      if (bad < 0) bad = i;
      continue;
    }
    maxAbs = Math.max(maxAbs, Math.abs(x));
    range.min = Math.min(range.min, x);
    range.max = Math.max(range.max, x);
  }
  if (bad >= 0) f.fail(`${ref.name}: non-finite value at index ${bad}`);
  else if (maxAbs === 0) f.fail(`${ref.name}: all zero (the normalised activations vanish)`);
  else if (maxAbs > NORM_MAX) f.warn(`${ref.name}: |w| up to ${maxAbs.toPrecision(3)} (implausible for an RMSNorm gain)`);
}

export const mlpStage: Stage = {
  id: 7,
  name: 'MLP & norms',
  run(ctx): StageOutcome {
    const f = new Findings();
    const { config: c, tensors } = ctx.bundle();
    mlpShapes(c, tensors, f);
    const range: NormSummary = { min: Infinity, max: -Infinity };
    const norms = normGains(c);
    const offset = archTraits(c).normPlusOne ? 1 : 0;
    for (const [name, length] of norms) {
      const ref = checkShape(tensors, name, [length], (m) => f.fail(m));
      if (ref) checkNorm(ref, f, range, offset);
    }
    if (f.fails.length === 0) f.notes.unshift(`${c.num_layers} × gate/up/down shapes agree with FFN ${c.intermediate_size}; ${norms.length} norm gains finite in [${range.min.toPrecision(3)}, ${range.max.toPrecision(3)}]`);
    return f.outcome();
  },
};
