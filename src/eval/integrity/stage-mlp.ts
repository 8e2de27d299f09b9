import type { ArchConfig } from '../../tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { checkShape, readFloats } from './tensors.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

/** RMSNorm gains of trained models stay far below this; larger ones overflow f16 activations. */
const NORM_MAX = 1000;

function mlpShapes(c: ArchConfig, tensors: TensorStore, f: Findings): void {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const fail = (m: string): void => f.fail(m);
  for (let l = 0; l < c.num_layers; l++) {
    const p = `model.layers.${l}.mlp`;
    checkShape(tensors, `${p}.gate_proj.weight`, [I, H], fail, ' (intermediate_size × hidden_size)');
    checkShape(tensors, `${p}.up_proj.weight`, [I, H], fail, ' (intermediate_size × hidden_size)');
    checkShape(tensors, `${p}.down_proj.weight`, [H, I], fail, ' (hidden_size × intermediate_size)');
  }
}

interface NormSummary {
  min: number;
  max: number;
}

/** A norm gain vector: finite, not all zero (the layer's output would vanish), magnitudes plausible. */
function checkNorm(ref: TensorRef, f: Findings, range: NormSummary): void {
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
    const x = v[i] as number;
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
    const norms = ['model.norm.weight'];
    for (let l = 0; l < c.num_layers; l++) norms.push(`model.layers.${l}.input_layernorm.weight`, `model.layers.${l}.post_attention_layernorm.weight`);
    for (const name of norms) {
      const ref = checkShape(tensors, name, [c.hidden_size], (m) => f.fail(m));
      if (ref) checkNorm(ref, f, range);
    }
    if (f.fails.length === 0) f.notes.unshift(`${c.num_layers} × gate/up/down shapes agree with FFN ${c.intermediate_size}; ${norms.length} norm gains finite in [${range.min.toPrecision(3)}, ${range.max.toPrecision(3)}]`);
    return f.outcome();
  },
};
