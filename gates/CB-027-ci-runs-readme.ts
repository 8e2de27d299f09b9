import { statSync } from 'node:fs';
import { z } from 'zod';
import { setupSection, simpleCommands } from './lib/readme.js';
import { defineCheck, outcome, type Finding } from './lib/types.js';

function scriptCommands(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .flatMap(simpleCommands);
}

function runs(script: readonly string[], command: string): boolean {
  return simpleCommands(command).every((c) => script.some((s) => s === c || s.startsWith(`${c} `)));
}

/** CI runs what the README tells a user to run, so the README cannot rot. */
export const ciRunsReadme = defineCheck({
  id: 'CB-027',
  name: 'ci-runs-readme',
  description: 'the CI script exists, is executable, stops on errors and runs the README commands',
  thresholds: z.object({ script: z.string().default('.ci/run') }),
  run(ctx, t) {
    if (!ctx.exists(t.script)) return outcome(`${t.script} not found`, [{ level: 'fail', message: `no CI script ${t.script}` }]);
    const text = ctx.text(t.script) ?? '';
    const cmds = scriptCommands(text);
    const s = setupSection(ctx);
    const findings: Finding[] = [];
    if ((statSync(ctx.abs(t.script)).mode & 0o111) === 0) findings.push({ level: 'fail', file: t.script, message: 'not executable' });
    if (!/^\s*set\s+-[a-z]*e/m.test(text)) findings.push({ level: 'warn', file: t.script, message: "no 'set -e': a failing step would not fail CI" });
    const test = s?.commands[s.commands.length - 1];
    if (!test) findings.push({ level: 'fail', file: t.script, message: 'README has no set-up test command to compare with' });
    else if (!runs(cmds, test)) findings.push({ level: 'fail', file: t.script, message: `does not run the README test command '${test}'` });
    for (const c of (s?.commands ?? []).slice(0, -1)) {
      if (!runs(cmds, c)) findings.push({ level: 'warn', file: t.script, message: `does not run README set-up command '${c}'` });
    }
    return outcome(`${t.script} runs ${test ? `'${test}'` : '(no README test command)'}`, findings);
  },
});
