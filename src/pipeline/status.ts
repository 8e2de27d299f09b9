/** `apr pipeline status`: each stage's state against the lock, and the eval stage's results. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HashCache } from './hash.js';
import { readLock } from './lock.js';
import type { UpstreamResults } from './results.js';
import type { Plan } from './stages.js';
import { type StageState, checkAll } from './state.js';

export interface StageStatus {
  name: string;
  state: StageState;
  reason: string | null;
  key: string | null;
  outputs: string[];
}

export interface PipelineStatus {
  output_dir: string;
  stages: StageStatus[];
  /** The eval stage's results (upstream's shape), when it has written them. */
  results: UpstreamResults | null;
  problems: string[];
}

function readResults(plan: Plan): UpstreamResults | null {
  const rel = plan.stages.find((s) => s.results !== undefined)?.results;
  if (rel === undefined) return null;
  const file = join(plan.outputDir, rel);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as UpstreamResults;
  } catch {
    return null;
  }
}

export async function pipelineStatus(plan: Plan): Promise<PipelineStatus> {
  const { lock, problem } = readLock(plan.outputDir);
  const checks = await checkAll(plan, lock, new HashCache());
  const stages = plan.stages.map((s, i) => {
    const c = checks[i];
    return { name: s.name, state: c?.state ?? 'pending', reason: c?.reason ?? null, key: c?.key ?? null, outputs: s.outputs };
  });
  return { output_dir: plan.outputDir, stages, results: readResults(plan), problems: problem ? [problem] : [] };
}

/** The status as text lines: one per stage, then the eval results. */
export function statusLines(st: PipelineStatus): string[] {
  const width = Math.max(...st.stages.map((s) => s.name.length), 5);
  const lines = st.stages.map((s) => `${s.name.padEnd(width)}  ${s.state.padEnd(7)}  ${s.key ? s.key.slice(0, 12) : '-'.padEnd(12)}  ${s.reason ?? s.outputs.join(', ')}`);
  const r = st.results;
  if (r) {
    const at10 = r.results.pass_at_10 === null ? '' : `, pass@10 ${r.results.pass_at_10}%`;
    lines.push('', `eval ${r.benchmark}: pass@1 ${r.results.pass_at_1}%${at10} (${r.results.passed}/${r.results.total} problems passed, ${r.config.num_samples} sample(s) each)`);
  }
  return lines;
}
