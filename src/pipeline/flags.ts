/** Recipe section keys → the verb's command-line flags. */
import type { SectionValues } from './schema.js';

/** Keys a section maps by hand (positional arguments, output names) or that have no effect here (upstream-only). */
const SKIPPED: Record<string, readonly string[]> = {
  distill: ['teacher'],
  finetune: ['data', 'dataset', 'model_size', 'quantize_nf4', 'vram', 'wait_gpu'],
  align: ['lora'],
  merge: ['models', 'output'],
  prune: ['output'],
  quantize: ['output'],
  eval: ['benchmark'],
  compile: ['output', 'release', 'lto', 'strip'],
};

/** Keys whose flag is not the key in kebab case. */
const RENAMED: Record<string, Record<string, string>> = {
  prune: { calibration_data: '--calibration' },
  eval: { num_samples: '--n-samples' },
};

/** Keys accepted only so upstream recipes validate: they change nothing (plan reports them). */
const UPSTREAM_ONLY: Record<string, readonly string[]> = {
  finetune: ['model_size', 'quantize_nf4', 'vram', 'wait_gpu'],
  compile: ['release', 'lto', 'strip'],
};

function flagValue(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
}

/** The flags for a section's keys (in the section's key order), leaving out the hand-mapped ones. */
export function sectionFlags(stage: string, section: SectionValues): string[] {
  const skipped = SKIPPED[stage] ?? [];
  const renamed = RENAMED[stage] ?? {};
  const args: string[] = [];
  for (const [key, value] of Object.entries(section)) {
    if (skipped.includes(key) || value === undefined || value === false) continue;
    const flag = renamed[key] ?? `--${key.replaceAll('_', '-')}`;
    if (value === true) args.push(flag);
    else args.push(flag, flagValue(value));
  }
  return args;
}

/** The upstream-only keys a section sets (they are accepted and ignored). */
export function ignoredKeys(stage: string, section: SectionValues): string[] {
  return (UPSTREAM_ONLY[stage] ?? []).filter((k) => section[k] !== undefined);
}

/** A command line a user can paste into a POSIX shell (arguments quoted where needed). */
export function shellLine(args: readonly string[]): string {
  return ['apr', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}
