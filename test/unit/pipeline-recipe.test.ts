import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shellLine } from '../../src/pipeline/flags.js';
import { RecipeError, loadRecipe, orderingWarnings, parseRecipe } from '../../src/pipeline/recipe.js';
import { planRecipe } from '../../src/pipeline/stages.js';

const recipeFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, f));

const BASE = `model:
  id: models/demo.gguf
  output_dir: out
finetune:
  data: d.jsonl
  rank: 8
`;

function errorOf(text: string): string {
  try {
    parseRecipe(text, 'r.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return (err as Error).message;
  }
  throw new Error('the recipe was accepted');
}

describe('recipes', () => {
  it('every shipped recipe and every upstream example (A–L) is valid and plans', () => {
    const files = [...recipeFiles('recipes'), ...recipeFiles('recipes/examples')];
    expect(files.length).toBeGreaterThanOrEqual(15);
    for (const f of files) {
      const plan = planRecipe(loadRecipe(f));
      expect(plan.stages.length, f).toBeGreaterThan(0);
      for (const s of plan.stages) expect(s.commands.length, `${f} ${s.name}`).toBeGreaterThan(0);
    }
  });

  it('an unknown key is an error naming the file and the line of the key', () => {
    expect(errorOf(`${BASE}  rnak: 4\n`)).toBe("r.yaml:7: unknown key 'finetune.rnak'");
    expect(errorOf(`${BASE}prunee:\n  method: wanda\n`)).toBe("r.yaml:7: unknown key 'prunee'");
  });

  it('a wrong type is an error naming the line of the value', () => {
    const msg = errorOf(BASE.replace('rank: 8', 'rank: eight'));
    expect(msg).toMatch(/^r\.yaml:6: finetune\.rank: /);
    expect(errorOf(`${BASE}stages: [import, finetun]\n`)).toMatch(/^r\.yaml:7: stages\.1: /);
  });

  it('bad YAML names its line; a listed stage without its section is an error', () => {
    expect(errorOf('model:\n  id: [a\n')).toMatch(/^r\.yaml:\d+: /);
    expect(errorOf(`${BASE}stages: [import, finetune, eval]\n`)).toMatch(/stage 'eval' is listed/);
  });

  it('stages are inferred in upstream order from the sections present (import first)', () => {
    const r = parseRecipe(`${BASE}quantize:\n  scheme: q8_0\nmerge:\n  models: [b.apr]\n`, 'r.yaml');
    expect(r.stages).toEqual(['import', 'finetune', 'merge', 'quantize']);
    expect(r.warnings).toEqual([]);
  });

  it('upstream ordering rules are warnings', () => {
    expect(orderingWarnings(['import', 'merge'])).toEqual(['Merge without finetune.']);
    expect(orderingWarnings(['prune', 'finetune'])).toEqual(['Finetune after prune.']);
    expect(orderingWarnings(['finetune', 'distill'])).toEqual(['Distill after finetune.']);
    expect(orderingWarnings(['finetune', 'quantize', 'prune'])).toEqual(['Prune after quantize violates golden ordering (§10).']);
    expect(orderingWarnings(['import', 'distill', 'finetune', 'merge', 'prune', 'quantize', 'eval'])).toEqual([]);
  });

  it('plans the quick LoRA as pasteable apr command lines, each stage reading the previous output', () => {
    const plan = planRecipe(loadRecipe('recipes/quick-lora.yaml'));
    const lines = plan.stages.flatMap((s) => s.commands.map(shellLine));
    expect(lines[0]).toBe('apr import models/demo.gguf -o checkpoints/quick-lora/demo.apr');
    expect(lines[1]).toMatch(/^apr finetune checkpoints\/quick-lora\/demo\.apr --data recipes\/data\/code-instruct\.jsonl --method lora --rank 8 .* -o checkpoints\/quick-lora\/demo-finetune-adapter$/);
    expect(lines[2]).toBe('apr finetune checkpoints/quick-lora/demo.apr --adapter checkpoints/quick-lora/demo-finetune-adapter --merge -o checkpoints/quick-lora/demo-finetuned.apr');
    expect(lines[3]).toMatch(/^apr eval checkpoints\/quick-lora\/demo-finetuned\.apr .*--temperature 0 .*--json$/);
    expect(shellLine(['run', 'm.apr', "def f(x): 'a'"])).toBe(`apr run m.apr 'def f(x): '\\''a'\\'''`);
  });
});
