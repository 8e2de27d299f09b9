import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A tiny quick-LoRA recipe in `dir` (6 records, one epoch, 2 problems of 16 tokens): a few seconds per stage. */
export function writeTinyRecipe(dir: string, rank: number): string {
  const data = join(dir, 'train.jsonl');
  const recs = Array.from({ length: 6 }, (_v, i) => JSON.stringify({ instruction: `Write a function that returns ${i}`, response: `def f():\n    return ${i}\n` }));
  writeFileSync(data, `${recs.join('\n')}\n`);
  const problems = join(dir, 'problems.jsonl');
  writeFileSync(problems, readFileSync('recipes/data/problems.jsonl', 'utf8').split('\n').slice(0, 2).join('\n') + '\n');
  const recipe = join(dir, 'tiny.yaml');
  writeFileSync(recipe, `model:
  id: models/demo.gguf
  output_dir: ${join(dir, 'out')}
  name: demo
finetune:
  method: lora
  data: ${data}
  rank: ${rank}
  epochs: 1
  max_seq_len: 32
  val_split: 0.2
eval:
  data: ${problems}
  benchmark: mini
  max_tokens: 16
  temperature: 0.0
`);
  return recipe;
}

export interface ApplyJson {
  ran: string[];
  skipped: string[];
  seconds: number;
}

export const lockOf = (dir: string): { stages: { name: string; key: string; outputs: Record<string, string> }[] } =>
  JSON.parse(readFileSync(join(dir, 'out', 'pipeline.lock.json'), 'utf8')) as { stages: { name: string; key: string; outputs: Record<string, string> }[] };
