import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../../src/formats/open.js';
import { createSession } from '../../../src/model/session.js';
import { runPrompt } from '../../../src/ops/generate.js';
import { mergeModels } from '../../../src/ops/merge.js';
import { bin, llamaGreedy, reason } from '../../golden/gguf-llama-cpp-tools.js';
import { tempDir } from '../../helpers.js';
import { CODER, writeDerived } from './mergekit-fixtures.js';

/**
 * The outside reference for a merged vocabulary: llama.cpp reads the GGUF of a `tokenizer_source: union`
 * merge (a new BPE token and a new special token), tokenizes a prompt holding the special token, and
 * continues it greedily; apr must agree on the ids and the continuation.
 */
describe.skipIf(!bin)(`a union-vocabulary merge read by llama.cpp${bin ? '' : ` (skipped: ${reason})`}`, () => {
  let tmp: ReturnType<typeof tempDir>;
  let gguf: string;
  beforeAll(() => {
    tmp = tempDir('apr-merge-union-llama-');
    const b = join(tmp.dir, 'b.apr');
    writeDerived(b, { factor: 2, vocab: ['Ġzzzq'], added: [{ content: '<|tool_call|>', special: true }], row: (id, c) => 0.001 * (id - 4000) + c * 1e-5 });
    const cfg = join(tmp.dir, 'union.yml');
    writeFileSync(cfg, `models:\n  - model: ${CODER}\n  - model: ${b}\nmerge_method: linear\nbase_model: ${CODER}\ntokenizer_source: union\n`);
    gguf = join(tmp.dir, 'union.gguf');
    mergeModels({ models: [], config: cfg, output: gguf });
  });
  afterAll(() => tmp.cleanup());

  const prompt = '<|tool_call|>def fibonacci(n):';
  it('llama-tokenize gives apr’s ids (the new special token is id 4097) and llama-completion apr’s greedy text', () => {
    const printed = execFileSync(join(bin ?? '', 'llama-tokenize'), ['-m', gguf, '-p', prompt, '--ids', '--log-disable'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const ids = JSON.parse(printed.trim().split('\n').pop() ?? '[]') as number[];
    const session = createSession(openModel(gguf));
    expect(ids[0]).toBe(4097);
    expect(session.tokenizer.encode(prompt)).toEqual(ids);
    const ours = runPrompt(session, { prompt, maxTokens: 12 });
    // greedy decoding of the same f32 weights: the same 12 tokens (llama-completion ends its output with
    // newlines of its own, hence trimEnd, as in test/golden/gguf-llama-cpp-run.test.ts)
    expect(ours.stop_reason).toBe('length');
    expect(llamaGreedy(gguf, prompt, 12).trimEnd()).toBe(ours.text.trimEnd());
  });
});
