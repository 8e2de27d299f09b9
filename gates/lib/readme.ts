import type { ProjectContext } from './context.js';

const README_NAMES = ['README.md', 'readme.md', 'Readme.md', 'README.markdown', 'README'];
const SETUP_HEADING = /^(#{1,6})\s+.*\b(set[- ]?up|install(ation|ing)?|getting started|quick ?start)\b/i;

export interface SetupSection {
  file: string;
  heading: string;
  line: number;
  commands: string[];
}

export function readmeFile(ctx: ProjectContext): string | undefined {
  return README_NAMES.find((f) => ctx.exists(f));
}

/** Shell commands in the fenced code blocks of a section (prompts stripped, `\` continuations joined). */
function commandsIn(lines: readonly string[]): string[] {
  const out: string[] = [];
  let fence = false;
  let pending = '';
  for (const raw of lines) {
    if (/^\s*(```|~~~)/.test(raw)) {
      fence = !fence;
      continue;
    }
    if (!fence) continue;
    const line = raw.trim().replace(/^\$\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    pending += line.endsWith('\\') ? `${line.slice(0, -1).trim()} ` : line;
    if (!line.endsWith('\\')) {
      out.push(pending.trim());
      pending = '';
    }
  }
  return out;
}

/** The README's set-up section (first heading about set-up/installation) and its commands. */
export function setupSection(ctx: ProjectContext): SetupSection | undefined {
  const file = readmeFile(ctx);
  if (!file) return undefined;
  const lines = (ctx.text(file) ?? '').split('\n');
  const start = lines.findIndex((l) => SETUP_HEADING.test(l));
  if (start < 0) return undefined;
  const level = (SETUP_HEADING.exec(lines[start] ?? '')?.[1] ?? '#').length;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    const m = /^(#{1,6})\s/.exec(lines[i] ?? '');
    if (m && (m[1] ?? '').length <= level) {
      end = i;
      break;
    }
  }
  return { file, heading: (lines[start] ?? '').trim(), line: start + 1, commands: commandsIn(lines.slice(start + 1, end)) };
}

/** Splits `a && b; c` into simple commands. */
export function simpleCommands(command: string): string[] {
  return command.split(/&&|\|\||;/).map((c) => c.trim().replace(/\s+/g, ' ')).filter((c) => c.length > 0);
}

/** `npm test`, `npm run x`, `npm t` refer to package.json scripts: the missing ones. */
export function missingScripts(ctx: ProjectContext, command: string): string[] {
  const scripts = (ctx.packageJson()?.['scripts'] ?? {}) as Record<string, unknown>;
  const missing: string[] = [];
  for (const c of simpleCommands(command)) {
    const m = /^(npm|pnpm|yarn)\s+(run\s+|run-script\s+)?([\w:.-]+)/.exec(c);
    if (!m) continue;
    const script = m[2] ? m[3] : { test: 'test', t: 'test', start: 'start' }[m[3] ?? ''];
    if (script && typeof scripts[script] !== 'string') missing.push(script);
  }
  return missing;
}
