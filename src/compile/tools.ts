import { createRequire } from 'node:module';

/** esbuild or postject is not installed next to apr: compile cannot run (a one-line message says what to install). */
export class MissingToolError extends Error {
  constructor(
    readonly pkg: string,
    detail = 'which is not installed',
  ) {
    super(`apr compile needs the '${pkg}' package, ${detail} (npm install ${pkg})`);
    this.name = 'MissingToolError';
  }
}

// Resolved from this module's folder, so an npm-installed apr finds its own node_modules (or a parent's).
const requireHere = createRequire(import.meta.url);

function resolvePackage(pkg: string, entry: string): string {
  try {
    return requireHere.resolve(entry);
  } catch {
    throw new MissingToolError(pkg);
  }
}

type Esbuild = typeof import('esbuild');

/** The esbuild JS API (it runs its native binary from @esbuild/<platform>). */
export function loadEsbuild(): Esbuild {
  const path = resolvePackage('esbuild', 'esbuild');
  try {
    return requireHere(path) as Esbuild;
  } catch (err) {
    throw new MissingToolError('esbuild', `which does not load: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`);
  }
}

/** The path of postject's command-line script (run with this Node, in a child process). */
export function postjectCli(): string {
  return resolvePackage('postject', 'postject/dist/cli.js');
}

/** Fails fast (before any slow step) when esbuild or postject is missing. */
export function requireTools(): void {
  loadEsbuild();
  postjectCli();
}
