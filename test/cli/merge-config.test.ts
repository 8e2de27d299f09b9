import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, tempDir } from '../helpers.js';

const CODER = fixture('models/tiny-coder-llama');
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-merge-config-cli-');
});
afterAll(() => tmp.cleanup());

function config(name: string, yaml: string): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, yaml);
  return p;
}

describe('apr merge --config with mergekit YAML', () => {
  it('a frankenmerge (passthrough slices [0, 4] + [2, 6]) is written and runs with apr run', () => {
    const cfg = config('franken.yml', `slices:\n  - sources:\n      - model: ${CODER}\n        layer_range: [0, 4]\n  - sources:\n      - model: ${CODER}\n        layer_range: [2, 6]\nmerge_method: passthrough\ndtype: float32\n`);
    const out = join(tmp.dir, 'franken.apr');
    const r = runCli('apr', ['merge', '--config', cfg, '-o', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { strategy: string; layers: number; tensors: number; vocab_size: number };
    expect([j.strategy, j.layers, j.tensors, j.vocab_size]).toEqual(['passthrough', 8, 75, 4096]);
    const run = runCli('apr', ['run', out, 'def fibonacci(n):', '--max-tokens', '8', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const gen = JSON.parse(run.stdout) as { token_ids: number[]; text: string };
    expect(gen.token_ids.length).toBeGreaterThan(0);
    expect(gen.token_ids.every((id) => id >= 0 && id < 4096)).toBe(true);
  });

  it('bad configurations: exit 2, one line naming the file and the field, no output [ob:merge-config-refused]', () => {
    // the other refusals are covered in-process by test/train/merge/config-errors.test.ts
    const cases: [string, string, RegExp][] = [
      ['range.yml', `slices:\n  - sources: [{ model: ${CODER}, layer_range: [4, 9] }]\nmerge_method: passthrough\n`, /range\.yml: slices\.0\.sources\.0\.layer_range: \[4, 9\] goes past the 6 layers/],
      ['field.yml', `models: [{ model: ${CODER} }]\nmerge_method: linear\nlayers: 3\n`, /field\.yml: layers: unknown field/],
    ];
    for (const [name, yaml, message] of cases) {
      const out = join(tmp.dir, `${name}.apr`);
      const r = runCli('apr', ['merge', '--config', config(name, yaml), '-o', out]);
      expect(r.status, name).toBe(2);
      expect(r.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(r.stderr, name).toMatch(message);
      expect(existsSync(out), name).toBe(false);
    }
  });
});
