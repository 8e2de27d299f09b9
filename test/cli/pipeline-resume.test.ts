import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { type ApplyJson, lockOf, writeTinyRecipe } from './pipeline-helpers.js';

let tmp: ReturnType<typeof tempDir>;
let recipe: string;
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
beforeAll(() => {
  tmp = tempDir('apr-pipeline-resume-');
  recipe = writeTinyRecipe(tmp.dir, 4);
});
afterAll(() => tmp.cleanup());

/** Starts `apr pipeline apply` in its own process group and SIGKILLs the group once the finetune stage has begun. */
function applyKilledInFinetune(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/apr.ts', 'pipeline', 'apply', recipe], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let killed = false;
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8');
      // at once: the stage has begun and cannot have finished (its lock entry is written only after its outputs
      // exist, and the verb's own start-up takes seconds); a fixed delay raced the stage on an idle machine
      if (!killed && err.includes('[finetune] apr finetune') && child.pid !== undefined) {
        killed = true;
        process.kill(-child.pid, 'SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve(`${signal ?? 'exit'}\n${err}`));
  });
}

describe('apr pipeline apply after kill -9', () => {
  it('resumes: finished stages are kept, the killed stage and the ones after it rerun, outputs are correct', async () => {
    const killed = await applyKilledInFinetune();
    expect(killed.split('\n')[0]).toBe('SIGKILL');
    const lock = lockOf(tmp.dir);
    expect(lock.stages.map((s) => s.name)).toEqual(['import']);
    const r = runCli('apr', ['pipeline', 'apply', recipe, '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as ApplyJson;
    expect(report.skipped).toEqual(['import']);
    expect(report.ran).toEqual(['finetune', 'eval']);
    const done = lockOf(tmp.dir);
    for (const s of done.stages) for (const [rel, h] of Object.entries(s.outputs)) expect(sha(join(tmp.dir, 'out', rel))).toBe(h);
    // the resumed outputs are those of an uninterrupted run (training is seeded)
    const fresh = tempDir('apr-pipeline-fresh-');
    try {
      const freshRecipe = writeTinyRecipe(fresh.dir, 4);
      expect(runCli('apr', ['pipeline', 'apply', freshRecipe, '--json']).status).toBe(0);
      expect(sha(join(fresh.dir, 'out', 'demo-finetuned.apr'))).toBe(sha(join(tmp.dir, 'out', 'demo-finetuned.apr')));
      expect(existsSync(join(tmp.dir, 'out', 'results', 'mini.json'))).toBe(true);
    } finally {
      fresh.cleanup();
    }
  }, 90_000);
});
