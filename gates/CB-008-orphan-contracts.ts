import { z } from 'zod';
import { contractYamls, readBindings } from './lib/contracts.js';
import { defineCheck, outcome, plural, skip, type Finding } from './lib/types.js';

/** Every contract YAML, and each of its equations, is bound by some code; ids match file names. */
export const orphanContracts = defineCheck({
  id: 'CB-008',
  name: 'orphan-contracts',
  description: 'every contract YAML id and equation is referenced by a binding',
  thresholds: z.object({
    registry: z.string().default('contracts/binding.json'),
    contractsDir: z.string().default('contracts'),
  }),
  run(ctx, t) {
    const yamls = contractYamls(ctx, t.contractsDir);
    if (yamls.length === 0) return skip(`no ${t.contractsDir}/*.yaml in this project`);
    const reg = readBindings(ctx, t.registry);
    if (typeof reg === 'string') return outcome(reg, [{ level: 'fail', message: `${reg}: cannot tell which contracts are bound` }]);
    const bound = new Set(reg.contracts.map((e) => e.contract));
    const boundEq = new Set(reg.contracts.map((e) => `${e.contract}#${e.equation ?? ''}`));
    const findings: Finding[] = [];
    for (const y of yamls) {
      const base = y.file.slice(y.file.lastIndexOf('/') + 1).replace(/\.ya?ml$/, '');
      if (y.error || !y.id) findings.push({ level: 'fail', file: y.file, message: y.error ?? 'no metadata.id' });
      else if (y.id !== base) findings.push({ level: 'fail', file: y.file, message: `metadata.id '${y.id}' differs from the file name` });
      else if (!bound.has(y.id)) findings.push({ level: 'fail', file: y.file, message: `contract '${y.id}' is bound by no code` });
      else {
        for (const eq of y.equations.filter((e) => !boundEq.has(`${y.id ?? ''}#${e}`))) findings.push({ level: 'fail', file: y.file, message: `equation '${eq}' is bound by no code` });
      }
    }
    return outcome(`${plural(yamls.length, 'contract YAML')}, ${plural(bound.size, 'bound contract')}`, findings);
  },
});
