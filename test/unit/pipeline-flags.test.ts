/** Recipe keys → CLI flags (src/pipeline/flags.ts) and the stage cache key's canonical JSON (src/pipeline/hash.ts). */
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ignoredKeys, sectionFlags, shellLine } from '../../src/pipeline/flags.js';
import { HashCache, canonicalJson, stageKey } from '../../src/pipeline/hash.js';
import type { PlannedStage } from '../../src/pipeline/stages.js';

describe('sectionFlags', () => {
  it('kebab-cases keys, keeps key order, writes true as a bare flag, drops false and undefined, joins lists with commas', () => {
    const flags = sectionFlags('finetune', { lora_rank: 16, learning_rate: 0.0002, use_lora: true, packed: false, seed: undefined, target_modules: ['q_proj', 'v_proj'], epochs: 3 });
    expect(flags).toEqual(['--lora-rank', '16', '--learning-rate', '0.0002', '--use-lora', '--target-modules', 'q_proj,v_proj', '--epochs', '3']);
  });

  it('leaves out the keys a stage maps by hand and the upstream-only ones', () => {
    expect(sectionFlags('finetune', { data: 'd.jsonl', dataset: 'x', model_size: '7B', quantize_nf4: true, vram: 24, wait_gpu: true, epochs: 1 })).toEqual(['--epochs', '1']);
    expect(sectionFlags('merge', { models: ['a', 'b'], output: 'o', method: 'ties', weights: [0.5, 0.5] })).toEqual(['--method', 'ties', '--weights', '0.5,0.5']);
    expect(sectionFlags('compile', { output: 'o', release: true, lto: true, strip: true, target: 'linux-x64' })).toEqual(['--target', 'linux-x64']);
    // a key skipped for one stage is an ordinary flag for another
    expect(sectionFlags('prune', { data: 'x' })).toEqual(['--data', 'x']);
  });

  it('renames the keys whose flag differs from the key, for that stage only', () => {
    expect(sectionFlags('prune', { calibration_data: 'c.jsonl', method: 'wanda' })).toEqual(['--calibration', 'c.jsonl', '--method', 'wanda']);
    expect(sectionFlags('eval', { num_samples: 10, benchmark: 'humaneval', k: [1, 10] })).toEqual(['--n-samples', '10', '--k', '1,10']);
    expect(sectionFlags('finetune', { num_samples: 2 })).toEqual(['--num-samples', '2']);
  });

  it('numbers keep their value through String (0 is not dropped like false)', () => {
    expect(sectionFlags('quantize', { threshold: 0, scale: 1e-7 })).toEqual(['--threshold', '0', '--scale', '1e-7']);
  });

  it('ignoredKeys lists the upstream-only keys a section sets, in the declared order', () => {
    expect(ignoredKeys('finetune', { wait_gpu: false, epochs: 1, vram: 8 })).toEqual(['vram', 'wait_gpu']);
    expect(ignoredKeys('compile', { lto: true })).toEqual(['lto']);
    expect(ignoredKeys('eval', { vram: 8 })).toEqual([]);
  });
});

describe('shellLine', () => {
  it('quotes only what a POSIX shell would change', () => {
    expect(shellLine(['run', 'm.gguf', '--max-tokens', '48'])).toBe('apr run m.gguf --max-tokens 48');
    expect(shellLine(['run', 'def f(n):', "it's", ''])).toBe(`apr run 'def f(n):' 'it'\\''s' ''`);
  });

  it('a shell splits the line back into exactly the arguments', () => {
    const arg = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '=', ' ', "'", '"', '$', '\\', '*', '~', '`', '\n', '\t', ';', '&', '|', 'é'), maxLength: 8 });
    const cases = fc.sample(fc.array(arg, { maxLength: 5 }), { numRuns: 40, seed: 7 });
    // one shell for all cases: each case prints its arguments NUL-separated, cases end with a newline-free marker
    const script = cases.map((args) => `set -- ${shellLine(args)}; shift; for a in "$@"; do printf '%s\\0' "$a"; done; printf '@@END@@'`).join('\n');
    const out = execFileSync('sh', ['-c', script], { encoding: 'utf8' });
    const got = out.split('@@END@@').slice(0, -1).map((c) => (c === '' ? [] : c.split('\0').slice(0, -1)));
    expect(got).toEqual(cases);
  });
});

describe('canonicalJson', () => {
  /** The same value with every object's keys rotated by `seed`, then reversed (own __proto__ keys stay own keys). */
  function permuted(v: unknown, seed: number): unknown {
    if (Array.isArray(v)) return v.map((x) => permuted(x, seed));
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v).map(([k, x]) => [k, permuted(x, seed)] as const);
    const rotated = [...entries.slice(seed % Math.max(1, entries.length)), ...entries.slice(0, seed % Math.max(1, entries.length))].reverse();
    return Object.fromEntries(rotated);
  }

  it('is the same text under any permutation of keys, at every depth, and parses back to the value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(7), (v, seed) => {
        const text = canonicalJson(v);
        expect(canonicalJson(permuted(v, seed))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });

  it('sorts keys by code unit, leaves out undefined members and keeps arrays in order', () => {
    expect(canonicalJson({ b: [2, 1], B: 1, a: undefined, 'a"b': null })).toBe('{"B":1,"a\\"b":null,"b":[2,1]}');
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
  });
});

describe('stageKey', () => {
  const stage = (options: Record<string, unknown>, outputs = ['model.apr']): PlannedStage => ({
    name: 'finetune', commands: [], inputs: [], outputs, options, model: 'model.apr', ignored: [],
  });
  const option = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }));
  const optionKey = fc.constantFrom('epochs', 'lora_rank', 'learning_rate', 'seed', 'target_modules', 'method');

  it('changes when any non-path option changes, and not when the keys are reordered', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(optionKey, option), optionKey, option, async (options, key, value) => {
        fc.pre(canonicalJson(options[key]) !== canonicalJson(value));
        const hashes = new HashCache();
        const base = await stageKey(stage(options), hashes);
        expect(base).toMatch(/^[0-9a-f]{64}$/);
        expect(await stageKey(stage({ ...options, [key]: value }), hashes)).not.toBe(base);
        expect(await stageKey(stage(Object.fromEntries(Object.entries(options).reverse())), hashes)).toBe(base);
      }),
      { numRuns: 100 },
    );
  });

  it('changes with the outputs; input paths count only through their bytes (an init: source is kept apart)', async () => {
    const h = new HashCache();
    const base = await stageKey(stage({ data: 'a.jsonl', epochs: 1 }), h);
    expect(await stageKey(stage({ data: 'a.jsonl', epochs: 1 }, ['other.apr']), h)).not.toBe(base);
    expect(await stageKey(stage({ data: 'elsewhere/b.jsonl', epochs: 1 }), h)).toBe(base);
    expect(await stageKey(stage({ data: 'init:random', epochs: 1 }), h)).not.toBe(base);
  });
});

describe('recipe backend keys', () => {
  it('finetune and align take backend cpu | webgpu | auto (passed on as --backend); another value is refused', async () => {
    const { recipeSchema } = await import('../../src/pipeline/schema.js');
    const recipe = (finetune: Record<string, unknown>) => ({ model: { id: 'm.apr', output_dir: 'out' }, stages: ['finetune'], finetune: { data: 'd.jsonl', ...finetune } });
    expect(recipeSchema.safeParse(recipe({ backend: 'webgpu' })).success).toBe(true);
    expect(recipeSchema.safeParse(recipe({ backend: 'gpu' })).success).toBe(false);
    expect(sectionFlags('finetune', { method: 'lora', backend: 'webgpu' })).toEqual(['--method', 'lora', '--backend', 'webgpu']);
    expect(sectionFlags('align', { backend: 'auto', lora: true })).toEqual(['--backend', 'auto']);
  });
});
