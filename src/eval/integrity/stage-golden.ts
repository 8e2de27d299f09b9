import type { ModelBundle } from '../../tensor/bundle.js';
import type { CheckContext } from './context.js';
import { GOLDEN_TOLERANCE, type GoldenFingerprint, GoldenSchema, compareFingerprint, weightsDigest } from './golden.js';
import { provenanceChecks } from './provenance.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

/** The chain's last writer recorded per-tensor digests; they must describe the bytes now stored. */
function lastWriter(ctx: CheckContext, bundle: ModelBundle, f: Findings): void {
  if (bundle.provenance.length === 0) {
    f.note(ctx.format === 'apr' ? 'no provenance recorded' : `${ctx.format ?? 'this format'} carries no provenance`);
    return;
  }
  const last = bundle.provenance[bundle.provenance.length - 1];
  if (!bundle.integrity) {
    f.fail(`metadata.integrity: absent, but provenance records writers (last: ${last?.op ?? '?'})`);
    return;
  }
  const integrity = bundle.integrity;
  const stale = [...ctx.tensorDigests()].filter(([name, d]) => integrity[name] !== d).map(([name]) => name);
  if (stale.length > 0) f.fail(`the last writer (${last?.op ?? '?'}) recorded digests that ${stale.length} tensor(s) no longer match, e.g. ${stale[0]}`);
  else f.note(`provenance: ${bundle.provenance.map((p) => p.op).join(' → ')}; the last writer's digests match`);
}

function parseGolden(ctx: CheckContext, bundle: ModelBundle, f: Findings): GoldenFingerprint | undefined {
  const raw = bundle.metadata['golden'];
  if (raw === undefined) {
    if (ctx.format === 'apr') f.warn('metadata.golden: no logits fingerprint recorded at import');
    else f.note(`golden: none (${ctx.format ?? 'this format'} carries none)`);
    return undefined;
  }
  const parsed = GoldenSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    f.fail(`metadata.golden${issue?.path.map((p) => `.${String(p)}`).join('') ?? ''}: ${issue?.message ?? 'malformed'}`);
    return undefined;
  }
  return parsed.data;
}

/** The text probe's recorded ids, re-encoded: the tokenizer must not have changed since import. */
function textProbe(ctx: CheckContext, g: GoldenFingerprint, f: Findings): void {
  const probe = g.probes.find((p) => p.text !== undefined);
  if (probe?.text === undefined) return;
  let ids: number[];
  try {
    ids = ctx.tokenizer().encode(probe.text, { addSpecialTokens: false }).slice(0, probe.ids.length);
  } catch {
    f.note('golden text probe not re-encoded (no usable tokenizer, stage 4)');
    return;
  }
  if (ids.join(',') !== probe.ids.join(',')) f.fail('golden: the tokenizer encodes the recorded probe text to other ids than at import');
}

function golden(ctx: CheckContext, bundle: ModelBundle, f: Findings): Record<string, unknown> | undefined {
  const g = parseGolden(ctx, bundle, f);
  if (!g) return undefined;
  if (g.weights_digest !== undefined) {
    const now = weightsDigest(bundle, ctx.tensorDigests());
    if (now !== g.weights_digest) f.fail('metadata.golden.weights_digest: the fingerprint was recorded for other weights (a tensor changed, moved or was renamed after it)');
  }
  if (!ctx.forward) {
    f.note('golden logits not replayed (--no-forward)');
    return undefined;
  }
  try {
    const dev = compareFingerprint(g, ctx.model());
    if (dev.ratio > 1) f.fail(`golden logits not reproduced: ${dev.where}`);
    else f.note(`golden logits reproduced (${g.probes.length} probes, worst |Δ| ${dev.ratio.toFixed(3)} × tolerance ${GOLDEN_TOLERANCE.abs} + ${GOLDEN_TOLERANCE.rel}·|x|)`);
    textProbe(ctx, g, f);
    return { max_deviation_in_tolerances: dev.ratio };
  } catch (err) {
    f.fail(`golden logits not reproduced: ${errorMessage(err)}`);
    return undefined;
  }
}

export const goldenStage: Stage = {
  id: 10,
  name: 'golden & provenance',
  run(ctx): StageOutcome {
    const f = new Findings();
    const bundle = ctx.bundle();
    provenanceChecks(bundle.provenance, f);
    lastWriter(ctx, bundle, f);
    const data = golden(ctx, bundle, f);
    // With neither a provenance chain nor a fingerprint there is nothing to verify: say so rather than imply a check.
    if (bundle.provenance.length === 0 && bundle.metadata['golden'] === undefined) {
      f.notes.unshift('presence check only: nothing recorded to verify');
      return f.outcome({ presence_only: true });
    }
    return f.outcome(data);
  },
};
