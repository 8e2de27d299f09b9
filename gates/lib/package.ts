import type { ProjectContext } from './context.js';

export const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;

/** `{name: version}` of one dependency field of package.json (missing or malformed = empty). */
export function dependencies(ctx: ProjectContext, field: (typeof DEPENDENCY_FIELDS)[number]): Record<string, string> {
  const v = ctx.packageJson()?.[field];
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
