/**
 * `-o` into a folder that does not exist is bad usage (exit 2), checked before any work: one line naming the
 * output path and the missing folder, nothing written (no partial output, no temporary, the folder is not
 * created). Every writing verb goes through the same check (src/formats/atomic-write.ts).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAtomically } from '../../src/formats/atomic-write.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const DRAFT = fixture('gguf/tiny-draft-llama-f32.gguf');
const DRAFT_HF = fixture('models/tiny-draft-llama');

let tmp: ReturnType<typeof tempDir>;
let before: string[];
beforeAll(() => {
  tmp = tempDir('apr-output-path-');
  writeFileSync(join(tmp.dir, 'sft.jsonl'), '{"instruction":"add","response":"a + b"}\n'.repeat(4));
  writeFileSync(join(tmp.dir, 'text.jsonl'), '{"text":"def add(a, b):\\n    return a + b\\n"}\n'.repeat(4));
  writeFileSync(join(tmp.dir, 'prefs.jsonl'), '{"prompt":"add","chosen":"a + b","rejected":"a - b"}\n'.repeat(4));
  writeFileSync(join(tmp.dir, 'a-file'), 'not a folder');
  before = readdirSync(tmp.dir).sort();
});
afterAll(() => tmp.cleanup());

/** Runs `apr` with `out` as its output and checks the one-line exit-2 error and that nothing was written. */
function expectRejected(args: string[], out: string, folder: string, problem = `folder ${folder} does not exist`): void {
  const what = `apr ${args.join(' ')}`;
  const r = runCli('apr', args);
  expect(r.status, `${what}: ${r.stderr}`).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toContain(out);
  expect(lines[0], what).toBe(`apr: error: ${out}: cannot write the output: ${problem}`);
  expect(lines[0], what).not.toContain(process.execPath);
  expect(lines[0], what).not.toContain('.apr-tmp');
  expect(r.stdout, what).toBe('');
  expect(readdirSync(tmp.dir).sort(), what).toEqual(before);
}

describe('-o into a missing folder', () => {
  it('compile: exit 2 naming the path and the folder, before any work (no "node: no such file")', () => {
    const missing = join(tmp.dir, 'missing-dir');
    const out = join(missing, 'bin');
    expectRejected(['compile', DRAFT, '-o', out], out, missing);
    expect(existsSync(missing)).toBe(false);
  });

  it('import, export (file and SafeTensors folder), quantize, merge, prune: the same one-line error', () => {
    const missing = join(tmp.dir, 'missing');
    const cases: [string[], string][] = [
      [['import', DRAFT_HF], 'x.apr'],
      [['export', DRAFT, '--format', 'gguf'], 'x.gguf'],
      [['export', DRAFT, '--format', 'safetensors'], 'hf'],
      [['quantize', DRAFT, '--scheme', 'q8_0'], 'q.gguf'],
      [['merge', DRAFT, DRAFT, '--strategy', 'linear'], 'm.apr'],
      [['prune', DRAFT, '--method', 'magnitude', '--target-ratio', '0.5'], 'p.apr'],
    ];
    for (const [args, name] of cases) expectRejected([...args, '-o', join(missing, name)], join(missing, name), missing);
    expect(existsSync(missing)).toBe(false);
  });

  it('finetune (adapter folder and --plot), distill, align: the same one-line error', () => {
    const missing = join(tmp.dir, 'no', 'such', 'dir');
    const adapter = join(missing, 'adapter');
    expectRejected(['finetune', DRAFT, '--data', join(tmp.dir, 'sft.jsonl'), '--epochs', '1', '-o', adapter], adapter, missing);
    const plot = join(missing, 'loss.svg');
    expectRejected(['finetune', DRAFT, '--data', join(tmp.dir, 'sft.jsonl'), '--epochs', '1', '--plot', plot, '-o', join(tmp.dir, 'adapter')], plot, missing);
    const student = join(missing, 'student.apr');
    expectRejected(['distill', DRAFT, '--student', `init:${DRAFT}`, '--data', join(tmp.dir, 'text.jsonl'), '-o', student], student, missing);
    const aligned = join(missing, 'dpo');
    expectRejected(['align', DRAFT, '--method', 'dpo', '--lora', '--data', join(tmp.dir, 'prefs.jsonl'), '-o', aligned], aligned, missing);
    expect(existsSync(join(tmp.dir, 'no'))).toBe(false);
  });

  it('a parent that is a file is rejected the same way', () => {
    const parent = join(tmp.dir, 'a-file');
    const out = join(parent, 'x.apr');
    expectRejected(['import', DRAFT, '-o', out], out, parent, `${parent} is not a folder`);
  });

  it('the library writer names the output and the folder too, not its temporary', () => {
    const out = join(tmp.dir, 'missing', 'x.bin');
    expect(() => writeAtomically(out, (f) => f.write(new Uint8Array(4)))).toThrow(`${out}: cannot write the output: folder ${join(tmp.dir, 'missing')} does not exist`);
    expect(readdirSync(tmp.dir).sort()).toEqual(before);
  });
});
