import type { ArchConfig } from '../../tensor/bundle.js';
import type { TensorStore } from '../../tensor/store.js';
import { ropeNumerics, scoreNumerics } from './attention-numerics.js';
import { attentionShapes, checkShape } from './tensors.js';
import { Findings, type Stage, type StageOutcome } from './types.js';

function why(c: ArchConfig, name: string): string {
  if (name.startsWith('k_proj') || name.startsWith('v_proj')) return ` (num_kv_heads ${c.num_kv_heads} × head_dim ${c.head_dim} under GQA)`;
  return ` (num_heads ${c.num_heads} × head_dim ${c.head_dim})`;
}

/** RoPE: θ must be finite and > 1 (the frequencies θ^(−2i/d) must decrease); typical models use 1e4..1e7. */
function ropeChecks(c: ArchConfig, f: Findings): void {
  if (!Number.isFinite(c.rope_theta) || c.rope_theta <= 1) f.fail(`rope_theta: ${c.rope_theta} (must be finite and > 1)`);
  else if (c.rope_theta < 100 || c.rope_theta > 1e9) f.warn(`rope_theta: ${c.rope_theta} is outside the usual 1e2..1e9`);
  if (c.head_dim % 2 !== 0) f.fail(`head_dim: ${c.head_dim} is odd (RoPE rotates pairs)`);
  f.note(`RoPE θ ${c.rope_theta} over head_dim ${c.head_dim}`);
}

function strayLayers(c: ArchConfig, tensors: TensorStore, f: Findings): void {
  const stray = new Set<number>();
  for (const n of tensors.names()) {
    const m = /^model\.layers\.(\d+)\./.exec(n);
    if (m && Number(m[1]) >= c.num_layers) stray.add(Number(m[1]));
  }
  if (stray.size > 0) f.fail(`num_layers: ${c.num_layers}, but tensors exist for layer(s) ${[...stray].sort((a, b) => a - b).join(', ')}`);
}

export const attentionStage: Stage = {
  id: 6,
  name: 'attention',
  run(ctx): StageOutcome {
    const f = new Findings();
    const { config: c, tensors } = ctx.bundle();
    const shapes = attentionShapes(c);
    for (let l = 0; l < c.num_layers; l++) {
      for (const [n, shape] of shapes) checkShape(tensors, `model.layers.${l}.self_attn.${n}`, shape, (m) => f.fail(m), why(c, n));
    }
    strayLayers(c, tensors, f);
    ropeChecks(c, f);
    if (f.fails.length === 0) {
      ropeNumerics(c, f);
      scoreNumerics(c, tensors, f);
    }
    if (f.fails.length === 0) f.notes.unshift(`${c.num_layers} layers × Q/K/V/O shapes agree with ${c.num_heads} heads, ${c.num_kv_heads} KV heads, head_dim ${c.head_dim}`);
    return f.outcome();
  },
};
