import { z } from 'zod';
import { missingScripts, readmeFile, setupSection } from './lib/readme.js';
import { defineCheck, outcome, type Finding } from './lib/types.js';

/** A fresh machine needs exactly two commands: set up and run, then the tests. */
export const readmeSetup = defineCheck({
  id: 'CB-026',
  name: 'readme-setup',
  description: 'the README set-up section gives exactly the expected commands, the last one the test command, and they exist',
  thresholds: z.object({
    commands: z.number().int().min(1).default(2),
    testCommand: z.string().default('npm test'),
  }),
  run(ctx, t) {
    const file = readmeFile(ctx);
    if (!file) return outcome('no README', [{ level: 'fail', message: 'README.md missing' }]);
    const s = setupSection(ctx);
    if (!s) return outcome(`${file} has no set-up section`, [{ level: 'fail', file, message: 'no heading about set-up, installation or getting started' }]);
    const findings: Finding[] = [];
    if (s.commands.length !== t.commands) findings.push({ level: 'fail', file, line: s.line, message: `set-up section has ${s.commands.length} commands, expected exactly ${t.commands}` });
    const last = s.commands[s.commands.length - 1];
    if (last !== t.testCommand) findings.push({ level: 'fail', file, line: s.line, message: `last set-up command is '${last ?? '(none)'}', expected '${t.testCommand}'` });
    for (const c of s.commands) {
      for (const script of missingScripts(ctx, c)) findings.push({ level: 'fail', file, line: s.line, message: `'${c}' runs npm script '${script}', which package.json does not define` });
    }
    return outcome(`${file} '${s.heading}': ${s.commands.map((c) => `\`${c}\``).join(', ') || 'no commands'}`, findings);
  },
});
