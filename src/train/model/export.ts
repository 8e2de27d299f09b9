import { basename } from 'node:path';
import type { ModelBundle } from '../../tensor/bundle.js';
import { MemoryTensorStore } from '../../tensor/store.js';
import { type LinearParams, type Matrix, matrixFloats } from '../autograd/linear.js';
import type { VectorParam } from '../autograd/ops.js';
import { type LayerParams, LINEAR_MODULES, type ModelParams, modulePath } from './params.js';

const LAYER_KEY = { q_proj: 'q', k_proj: 'k', v_proj: 'v', o_proj: 'o', gate_proj: 'gate', up_proj: 'up', down_proj: 'down' } as const;

function bytesOf(x: Float32Array): Uint8Array {
  const copy = Float32Array.from(x);
  return new Uint8Array(copy.buffer);
}

/** W + scale·B·A in float64 sums, rounded once (src/formats/peft merge's arithmetic). */
function effective(lin: LinearParams): Float32Array {
  const { rows, cols } = lin.w;
  const w = Float32Array.from(matrixFloats(lin.w));
  const l = lin.lora;
  if (!l) return w;
  const acc = new Float64Array(cols);
  for (let o = 0; o < rows; o++) {
    acc.fill(0);
    for (let k = 0; k < l.r; k++) {
      const c = l.b[o * l.r + k] as number;
      for (let i = 0; i < cols; i++) acc[i] = (acc[i] as number) + c * (l.a[k * cols + i] as number);
    }
    for (let i = 0; i < cols; i++) w[o * cols + i] = (w[o * cols + i] as number) + l.scale * (acc[i] as number);
  }
  return w;
}

/**
 * The current weights as an F32 bundle under the base names (LoRA factors merged into their projections,
 * NF4 bases dequantized), config, tokenizer and metadata copied from the base.
 */
export function paramsToBundle(base: ModelBundle, p: ModelParams): ModelBundle {
  const store = new MemoryTensorStore();
  const c = base.config;
  const mat = (name: string, m: Matrix): void => store.add(name, 'F32', [m.rows, m.cols], bytesOf(matrixFloats(m)));
  const vec = (name: string, v: VectorParam): void => store.add(name, 'F32', [v.data.length], bytesOf(v.data));
  mat('model.embed_tokens.weight', p.embed);
  p.layers.forEach((l: LayerParams, i) => {
    vec(`model.layers.${i}.input_layernorm.weight`, l.inputNorm);
    vec(`model.layers.${i}.post_attention_layernorm.weight`, l.postNorm);
    for (const m of LINEAR_MODULES) {
      const lin = l[LAYER_KEY[m]];
      const prefix = modulePath(i, m);
      store.add(`${prefix}.weight`, 'F32', [lin.w.rows, lin.w.cols], new Uint8Array(effective(lin).buffer));
      if (lin.bias) vec(`${prefix}.bias`, lin.bias);
    }
  });
  vec('model.norm.weight', p.norm);
  if (p.lmHead !== p.embed) mat('lm_head.weight', p.lmHead);
  const bundle: ModelBundle = {
    config: { ...c },
    tensors: store,
    metadata: { ...base.metadata },
    provenance: [...base.provenance],
    // a virtual path whose file name is the base's (GGUF's general.name derives from it; no host path leaks)
    source: { path: `memory:trained/${basename(base.source.path)}`, format: 'memory' },
  };
  if (base.tokenizer) bundle.tokenizer = base.tokenizer;
  return bundle;
}
