/** End to end: `apr distill` on trl's conversational data (see chat-data-helpers.ts for the method). */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DistillResult, distillModel } from '../../src/ops/distill.js';
import { runCli, tempDir } from '../helpers.js';
import { CODER, DRAFT, tensorsOf, writeVariants } from './chat-data-helpers.js';

let tmp: ReturnType<typeof tempDir>;
let files: ReturnType<typeof writeVariants>;
beforeAll(() => {
  tmp = tempDir('apr-chat-distill-');
  files = writeVariants(tmp.dir);
});
afterAll(() => tmp.cleanup());

describe('apr distill on {"messages"} JSONL (tiny-coder-llama → tiny-draft-llama)', () => {
  const opts = { teacher: CODER, student: DRAFT, strategy: 'standard' as const, epochs: 1, maxSeqLen: 64, valSplit: 0, seed: 2, lr: 1e-3 };
  let cli: DistillResult;

  it('distils through the CLI', () => {
    expect(files.trailingLengths[0]).toBe(files.trailingLengths[1]); // same shapes in both runs (see the helpers)
    const out = join(tmp.dir, 'd-base.apr');
    const r = runCli('apr', ['distill', CODER, '--student', DRAFT, '--data', files.base, '--max-seq-len', '64', '--val-split', '0', '--epochs', '1', '--seed', '2', '--lr', '1e-3', '--json', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    cli = JSON.parse(r.stdout) as DistillResult;
    expect(cli.trainWindows).toBe(4);
    expect(cli.history[0]!.metrics['kl']).toBeGreaterThan(0);
  });

  it('only assistant positions are distilled: trailing user change is bit-identical, assistant change is not', () => {
    const same = distillModel({ ...opts, data: files.userChanged, output: join(tmp.dir, 'd-user.apr') });
    expect(same.history[0]!.trainLoss).toBe(cli.history[0]!.trainLoss);
    const a = tensorsOf(join(tmp.dir, 'd-base.apr')), b = tensorsOf(join(tmp.dir, 'd-user.apr'));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [n, t] of a) expect(b.get(n)!.equals(t), n).toBe(true);
    const other = distillModel({ ...opts, data: files.assistantChanged, output: join(tmp.dir, 'd-assistant.apr') });
    expect(Math.abs(other.history[0]!.trainLoss - cli.history[0]!.trainLoss)).toBeGreaterThan(1e-4);
  });
});
