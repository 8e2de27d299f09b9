import { parse } from 'yaml';
import type { ProjectContext } from './context.js';

export interface BindingEntry {
  contract: string;
  equation?: string;
  file?: string;
  symbol?: string;
}

export interface BindingRegistry {
  contracts: BindingEntry[];
  unbound: unknown[];
}

/** `contracts/binding.json` as written by the build-time binder, or an error message. */
export function readBindings(ctx: ProjectContext, rel: string): BindingRegistry | string {
  if (!ctx.exists(rel)) return `${rel} not found`;
  const raw = ctx.json(rel);
  if (!raw || typeof raw !== 'object') return `${rel} is not valid JSON`;
  const doc = raw as { contracts?: unknown; unbound?: unknown };
  if (!Array.isArray(doc.contracts) || !Array.isArray(doc.unbound)) return `${rel}: expected {contracts: [...], unbound: [...]}`;
  const contracts = doc.contracts.flatMap((e: unknown): BindingEntry[] => {
    if (!e || typeof e !== 'object') return [];
    const o = e as Record<string, unknown>;
    const id = typeof o['contract'] === 'string' ? o['contract'] : o['id'];
    if (typeof id !== 'string') return [];
    const str = (k: string): string | undefined => (typeof o[k] === 'string' ? o[k] : undefined);
    return [{ contract: id, equation: str('equation'), file: str('file'), symbol: str('symbol') }];
  });
  return { contracts, unbound: doc.unbound };
}

export interface ContractYaml {
  file: string;
  id: string | undefined;
  equations: string[];
  error?: string;
}

/** Every `<dir>/*.yaml` contract with its metadata id and equation names. */
export function contractYamls(ctx: ProjectContext, dir: string): ContractYaml[] {
  return ctx.files
    .filter((f) => f.startsWith(`${dir}/`) && /\.ya?ml$/.test(f) && !f.slice(dir.length + 1).includes('/'))
    .map((file) => {
      try {
        const doc = parse(ctx.text(file) ?? '') as { metadata?: { id?: unknown }; equations?: unknown } | null;
        const id = typeof doc?.metadata?.id === 'string' ? doc.metadata.id : undefined;
        const eq = doc?.equations;
        return { file, id, equations: eq && typeof eq === 'object' && !Array.isArray(eq) ? Object.keys(eq) : [] };
      } catch (e) {
        return { file, id: undefined, equations: [], error: (e as Error).message.split('\n')[0] ?? 'invalid YAML' };
      }
    });
}
