import type { ProjectContext } from './context.js';
import { runNodeTool, sha256, type ProcessResult } from './tools.js';

export interface ToolRun extends ProcessResult {
  cached: boolean;
}

/**
 * Runs `node_modules/.bin/<tool> args` in the project, or reuses the result of the same command on an
 * identical tree (same hash of every code and config file). With `--skip-slow` only a reused result
 * is returned; undefined means the tool was not run.
 */
export async function cachedTool(ctx: ProjectContext, tool: string, args: readonly string[], timeoutSeconds: number): Promise<ToolRun | undefined> {
  const key = sha256([tool, ...args, ctx.inputsHash()]);
  const hit = ctx.cache.get<ProcessResult>(key);
  if (hit) return { ...hit, cached: true };
  if (ctx.skipSlow) return undefined;
  const r = await ctx.withToolSlot(() => runNodeTool(ctx.root, tool, args, timeoutSeconds * 1000));
  if (!r.timedOut && r.code !== 127) ctx.cache.set(key, r);
  return { ...r, cached: false };
}

export function describeRun(r: ToolRun): string {
  return r.cached ? 'reused result for an identical tree' : `${(r.durationMs / 1000).toFixed(1)} s`;
}

/** The last lines of a tool's output, on one line, for a message. */
export function tail(r: ProcessResult, lines = 3): string {
  return (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-lines).join(' | ').slice(0, 400);
}
