import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GoldenSchema, compareFingerprint, fingerprintForImport, goldenFingerprint, probeSequence } from '../../src/eval/integrity/golden.js';
import { summarize } from '../../src/eval/integrity/pipeline.js';
import { provenanceChecks } from '../../src/eval/integrity/provenance.js';
import { Findings, type StageResult, type StageStatus } from '../../src/eval/integrity/types.js';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { cpuPortableBackend } from '../../src/kernels/index.js';
import { type Model, loadModel } from '../../src/model/index.js';
import { CACHE_TOLERANCE, cachedAgainstFull } from '../../src/eval/integrity/stage-forward.js';
import type { ModelBundle, ProvenanceEntry } from '../../src/tensor/bundle.js';
import { fixture } from '../helpers.js';
import { GGUF_F32, GGUF_Q4KM, HF, IMPORT_ENTRY } from './check-helpers.js';

const stage = (id: number, status: StageStatus): StageResult => ({ id, name: `s${id}`, status, details: '', ms: 0 });

describe('report summary', () => {
  it('passed, total, score and all_passed follow from the statuses [ob:check-summary]', () => {
    expect(summarize(['PASS', 'PASS', 'WARN', 'FAIL'].map((s, i) => stage(i + 1, s as StageStatus)))).toEqual({ passed: 3, total: 4, score: 63, all_passed: false });
    expect(summarize([stage(1, 'PASS'), stage(9, 'SKIP'), stage(10, 'WARN')])).toEqual({ passed: 2, total: 2, score: 75, all_passed: true });
    fc.assert(
      fc.property(fc.array(fc.constantFrom<StageStatus>('PASS', 'WARN', 'FAIL', 'SKIP'), { minLength: 1, maxLength: 10 }), (statuses) => {
        const s = summarize(statuses.map((st, i) => stage(i + 1, st)));
        const n = (x: StageStatus): number => statuses.filter((y) => y === x).length;
        const total = statuses.length - n('SKIP');
        expect(s.total).toBe(total);
        expect(s.passed).toBe(n('PASS') + n('WARN'));
        expect(s.all_passed).toBe(n('FAIL') === 0);
        expect(s.score).toBe(total === 0 ? 0 : Math.round((100 * (n('PASS') + n('WARN') / 2)) / total));
        expect(s.score).toBeGreaterThanOrEqual(0);
        expect(s.score).toBeLessThanOrEqual(100);
      }),
    );
  });
});

function withModel<T>(bundle: ModelBundle, fn: (b: ModelBundle) => T): T {
  try {
    return fn(bundle);
  } finally {
    bundle.tensors.close();
  }
}

describe('golden fingerprint', () => {
  const golden = GoldenSchema.parse(JSON.parse(JSON.stringify(withModel(readHfDir(HF), fingerprintForImport))));

  it('has three probes, the text probe first, and binds the weights by digest', () => {
    expect(golden.probes.map((p) => p.ids.length)).toEqual([16, 12, 8]);
    expect(golden.probes[0]?.text).toContain('def read_lines');
    expect(golden.probes[1]?.ids).toEqual(probeSequence(4096, 12, 2));
    expect(golden.weights_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(golden.probes.every((p) => p.top5_ids.length === 5 && p.lse.length === p.ids.length)).toBe(true);
  });

  it("is reproduced exactly by llama.cpp's f32 GGUF of the same weights (an independent file), and by the portable backend within tolerance [ob:check-golden-reproduced]", () => {
    const dev = withModel(readGgufBundle(GGUF_F32), (b) => compareFingerprint(golden, loadModel(b)));
    const portable = withModel(readHfDir(HF), (b) => compareFingerprint(golden, loadModel(b, { backend: cpuPortableBackend })));
    expect(portable.ratio).toBeLessThan(0.05);
    expect(dev.ratio).toBe(0);
  });

  it('rope_theta 10 % off, rms_norm_eps 10× off and Q4_K_M / Q8_0 weights exceed the tolerance [ob:check-golden-reproduced]', () => {
    const hf = readHfDir(HF);
    try {
      const rope = compareFingerprint(golden, loadModel({ ...hf, config: { ...hf.config, rope_theta: 11000 } }));
      expect(rope.ratio).toBeGreaterThan(10);
      const eps = compareFingerprint(golden, loadModel({ ...hf, config: { ...hf.config, rms_norm_eps: 1e-6 } }));
      expect(eps.ratio).toBeGreaterThan(3);
    } finally {
      hf.tensors.close();
    }
    for (const path of [GGUF_Q4KM, fixture('gguf/tiny-coder-llama-Q8_0.gguf')]) {
      const q = withModel(readGgufBundle(path), (b) => compareFingerprint(golden, loadModel(b)));
      expect(q.ratio, path).toBeGreaterThan(10);
    }
  });

  it('goldenFingerprint without a tokenizer uses pseudo-random probes only', () => {
    const g = withModel(readHfDir(HF), (b) => goldenFingerprint(loadModel(b)));
    expect(g.probes[0]?.text).toBeUndefined();
    expect(g.probes[0]?.ids).toEqual(probeSequence(4096, 16, 1));
    expect(g.weights_digest).toBeUndefined();
  });
});

describe('forward self-test: cached incremental decode against full recomputation', () => {
  /** The real model, with `bias` added to every logit of a one-token (cached) step: a KV-cache bug in miniature. */
  function skewed(model: Model, bias: number): Model {
    const forward: Model['forward'] = (tokens, start, cache, opts) => {
      const out = model.forward(tokens, start, cache, opts);
      return tokens.length === 1 ? out.map((x) => x + bias) : out;
    };
    return new Proxy(model, {
      get: (target, key) => {
        if (key === 'forward') return forward;
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  it('is exact on the fixture and fails a cache path off by 2e-4 [ob:check-cache-equivalence]', () => {
    const model = withModel(readHfDir(HF), (b) => loadModel(b));
    const ids = probeSequence(4096, 12, 5);
    const full = model.logitsAll(ids);
    const ok = new Findings();
    expect(cachedAgainstFull(model, full, ids, ok)).toBe(0);
    expect(ok.fails).toEqual([]);
    const bad = new Findings();
    expect(cachedAgainstFull(skewed(model, 2e-4), full, ids, bad)).toBeGreaterThan(CACHE_TOLERANCE);
    expect(bad.fails[0]).toMatch(/^KV cache: incremental decode differs from full recomputation by 2\.\d+e-4 at position 4 \(tolerance 0\.0001\)$/);
  });
});

describe('provenance chain', () => {
  const run = (entries: ProvenanceEntry[], now = Date.parse('2025-06-01T00:00:00Z')): Findings => {
    const f = new Findings();
    provenanceChecks(entries, f, now);
    return f;
  };

  it('accepts a well-formed non-decreasing chain', () => {
    const f = run([IMPORT_ENTRY, { ...IMPORT_ENTRY, op: 'quantize', time: '2025-01-02T03:04:05.000Z' }, { ...IMPORT_ENTRY, op: 'merge', time: '2025-03-01T00:00:00+02:00' }]);
    expect([f.fails, f.warns]).toEqual([[], []]);
  });

  it('names each malformed field', () => {
    const f = run([{ op: '', options: {}, inputDigests: [], toolVersion: ' ', time: 'yesterday' }]);
    expect(f.fails).toEqual([
      'provenance[0].op: empty',
      'provenance[0].toolVersion: empty',
      'provenance[0].inputDigests: empty (an operation has at least one input)',
      'provenance[0].time: "yesterday" is not an ISO-8601 time',
    ]);
  });

  it('accepts entries without a time (reproducible outputs) and orders the timed ones around them', () => {
    const { time: _t, ...untimed } = IMPORT_ENTRY;
    expect(run([untimed, { ...untimed, op: 'quantize' }]).fails).toEqual([]);
    const f = run([{ ...IMPORT_ENTRY, time: '2025-02-01T00:00:00Z' }, { ...untimed, op: 'quantize' }, { ...IMPORT_ENTRY, op: 'merge' }]);
    expect(f.fails).toEqual([`provenance[2].time: ${IMPORT_ENTRY.time ?? ''} precedes provenance[0].time (the chain is out of order)`]);
  });

  it('flags a time in the future as a warning and an out-of-order time as a failure', () => {
    const f = run([{ ...IMPORT_ENTRY, time: '2026-01-01T00:00:00Z' }, IMPORT_ENTRY]);
    expect(f.warns).toEqual(['provenance[0].time: 2026-01-01T00:00:00Z is in the future']);
    expect(f.fails[0]).toMatch(/^provenance\[1\]\.time: 2025-01-02T03:04:05\.000Z precedes provenance\[0\]\.time/);
  });
});
