import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bindContracts, writeBindingRegistry } from '../src/contract/binder.js';

const root = resolve(process.argv[2] ?? '.');
const result = bindContracts(root);
mkdirSync(join(root, 'contracts'), { recursive: true });
writeBindingRegistry(root, result);
if (result.errors.length > 0) {
  for (const e of result.errors) console.error(`bind: ${e}`);
  console.error(`bind: FAILED — ${result.errors.length} problem(s); every exported op/kernel needs a contract and every YAML equation a binding`);
  process.exit(1);
}
console.error(`bind: ${result.bindings.length} binding(s), ${result.exportedOpsAndKernels} exported op/kernel symbol(s), all bound`);
