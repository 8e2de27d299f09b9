/** End to end: `apr finetune` and `apr align` on trl's conversational data (see chat-data-helpers.ts for the method). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlignResult } from '../../src/ops/align.js';
import { type FinetuneResult, finetune } from '../../src/ops/finetune.js';
import { runCli, tempDir } from '../helpers.js';
import { CODER, DRAFT, type Msg, writeVariants } from './chat-data-helpers.js';

let tmp: ReturnType<typeof tempDir>;
let files: ReturnType<typeof writeVariants>;
beforeAll(() => {
  tmp = tempDir('apr-chat-cli-');
  files = writeVariants(tmp.dir);
});
afterAll(() => tmp.cleanup());

describe('apr finetune on {"messages"} JSONL (LoRA, tiny-coder-llama)', () => {
  const opts = { rank: 4, alpha: 8, maxSeqLen: 64, valSplit: 0, training: { epochs: 1, lr: 1e-2, seed: 5 } };
  let cli: FinetuneResult;

  it('trains through the CLI and writes a PEFT adapter', () => {
    expect(files.trailingLengths[0]).toBe(files.trailingLengths[1]); // same shapes in both runs (see the helpers)
    const out = join(tmp.dir, 'ft-base');
    const r = runCli('apr', ['finetune', CODER, '--data', files.base, '--rank', '4', '--alpha', '8', '--max-seq-len', '64', '--val-split', '0', '--epochs', '1', '--lr', '1e-2', '--seed', '5', '--json', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    cli = JSON.parse(r.stdout) as FinetuneResult;
    expect(cli.trainExamples).toBe(4);
    // Target tokens: per conversation the assistant content + <|im_end|> + "\n", nothing else.
    expect(cli.trainTokens).toBe(files.baseTargets);
    expect(Number.isFinite(cli.history[0]!.trainLoss)).toBe(true);
  });

  it('a changed trailing user turn leaves the loss and the adapter bit-identical; a changed assistant token does not', () => {
    const same = finetune({ model: CODER, data: files.userChanged, output: join(tmp.dir, 'ft-user'), ...opts });
    expect(same.trainTokens).toBe(cli.trainTokens);
    expect(same.history[0]!.trainLoss).toBe(cli.history[0]!.trainLoss);
    const a = readFileSync(join(tmp.dir, 'ft-base', 'adapter_model.safetensors'));
    expect(readFileSync(join(tmp.dir, 'ft-user', 'adapter_model.safetensors')).equals(a)).toBe(true);
    const other = finetune({ model: CODER, data: files.assistantChanged, output: join(tmp.dir, 'ft-assistant'), ...opts });
    expect(Math.abs(other.history[0]!.trainLoss - cli.history[0]!.trainLoss)).toBeGreaterThan(1e-4);
  });

  it('--no-assistant-only-loss trains every token, so the trailing user turn then counts', () => {
    const all = finetune({ model: CODER, data: files.base, output: join(tmp.dir, 'ft-all'), ...opts, assistantOnlyLoss: false });
    expect(all.trainTokens).toBeGreaterThan(2 * cli.trainTokens);
  });
});

describe('apr align on conversational preference pairs', () => {
  it('DPO --lora on tiny-draft-llama runs on explicit-prompt and implicit-prompt lines', () => {
    const q = (i: number): Msg => ({ role: 'user', content: `Write a function that returns ${i}` });
    const good = (i: number): Msg => ({ role: 'assistant', content: `def f():\n    return ${i}` });
    const bad: Msg = { role: 'assistant', content: 'print("no")' };
    const lines = [0, 1, 2, 3, 4, 5].map((i) => JSON.stringify(i % 2 === 0 ? { prompt: [q(i)], chosen: [good(i)], rejected: [bad] } : { chosen: [q(i), good(i)], rejected: [q(i), bad] }));
    const data = join(tmp.dir, 'prefs.jsonl');
    writeFileSync(data, `${lines.join('\n')}\n`);
    const out = join(tmp.dir, 'dpo');
    const r = runCli('apr', ['align', DRAFT, '--method', 'dpo', '--data', data, '--lora', '--rank', '2', '--epochs', '1', '--max-seq-len', '64', '--json', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout) as AlignResult;
    expect(res.trainPairs + res.valPairs).toBe(6);
    expect(res.format).toBe('peft');
    // The reference is the model itself before training, so the held-out margin starts at 0 (up to float64 rounding).
    expect(Math.abs(res.initial['reward_margin'] ?? NaN)).toBeLessThanOrEqual(1e-9);
    expect(Number.isFinite(res.history[0]!.trainLoss)).toBe(true);
  });

  it('a bad conversational pair: exit 3, one line naming file:line and field, nothing written', () => {
    const data = join(tmp.dir, 'bad-prefs.jsonl');
    writeFileSync(data, `${JSON.stringify({ prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] })}\n${JSON.stringify({ prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant' }] })}\n`);
    const out = join(tmp.dir, 'never');
    const r = runCli('apr', ['align', DRAFT, '--method', 'orpo', '--data', data, '-o', out]);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe(`apr: error: ${data}:2: rejected[0].content: missing (expected a string)\n`);
    expect(existsSync(out)).toBe(false);
  });
});
