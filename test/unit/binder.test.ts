import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bindContracts, writeBindingRegistry } from '../../src/contract/binder.js';

const YAML = `metadata: { id: demo-v1, version: 1, description: demo }
equations:
  double: { formula: "f(x) = 2x", domain: "R", codomain: "R" }
proof_obligations: []
falsification_tests: []
proofs: []
`;

const CONTRACT = `import { defineContract } from '../contract/index.js';
export const demoContract = defineContract<number, number>({ id: 'demo-v1', equation: 'double', spec: 'f(x)=2x' });
`;

let root = '';
function project(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'apr-binder-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('build-time contract binder', () => {
  it('fails on an exported op without a contract, naming it', () => {
    const dir = project({
      'contracts/demo-v1.yaml': YAML,
      'src/ops/demo-contract.ts': CONTRACT,
      'src/ops/double.ts': `import { demoContract } from './demo-contract.js';\nexport function double(x: number): number { return demoContract.run(x, () => 2 * x); }\n`,
      'src/ops/triple.ts': `export function triple(x: number): number { return 3 * x; }\n`,
    });
    const result = bindContracts(dir);
    expect(result.errors).toEqual([`src/ops/triple.ts: exported function 'triple' has no contract`]);
    expect(result.bindings).toEqual([{ contract: 'demo-v1', equation: 'double', file: 'src/ops/double.ts', symbol: 'double', obligations: [] }]);
  });

  it('passes once the op is bound, through an import alias, and writes binding.json', () => {
    const dir = project({
      'contracts/demo-v1.yaml': YAML,
      'src/ops/demo-contract.ts': CONTRACT,
      'src/kernels/double.ts': `import { demoContract as c } from '../ops/demo-contract.js';\nexport const double = (x: number): number => c.run(x, () => 2 * x);\n`,
    });
    const result = bindContracts(dir);
    expect(result.errors).toEqual([]);
    expect(result.exportedOpsAndKernels).toBe(1);
    writeBindingRegistry(dir, result);
    const written = JSON.parse(readFileSync(join(dir, 'contracts/binding.json'), 'utf8')) as { contracts: { symbol: string }[]; unbound: string[] };
    expect(written.contracts.map((b) => b.symbol)).toEqual(['double']);
    expect(written.unbound).toEqual([]);
  });

  it('binds a class method through the @contract decorator', () => {
    const dir = project({
      'contracts/demo-v1.yaml': YAML,
      'src/ops/demo-contract.ts': CONTRACT,
      'src/ops/calc.ts': `import { contract } from '../contract/index.js';\nimport { demoContract } from './demo-contract.js';\nexport class Calc {\n  @contract(demoContract) static double(x: number): number { return 2 * x; }\n  static half(x: number): number { return x / 2; }\n}\n`,
    });
    const result = bindContracts(dir);
    expect(result.bindings.map((b) => b.symbol)).toEqual(['Calc.double']);
    expect(result.errors).toEqual([`src/ops/calc.ts: exported method 'Calc.half' has no contract`]);
  });

  it('fails on a YAML equation that nothing binds, naming it', () => {
    const dir = project({
      'contracts/demo-v1.yaml': YAML.replace('equations:\n', 'equations:\n  halve: { formula: "x/2", domain: "R", codomain: "R" }\n'),
      'src/ops/demo-contract.ts': CONTRACT,
      'src/ops/double.ts': `import { demoContract } from './demo-contract.js';\nexport function double(x: number): number { return demoContract.run(x, () => 2 * x); }\n`,
    });
    expect(bindContracts(dir).errors).toEqual([`contracts/demo-v1.yaml: equation 'halve' is not bound by any code`]);
  });

  it('fails when the YAML is missing or lacks the equation', () => {
    const dir = project({
      'src/ops/demo-contract.ts': CONTRACT.replace("equation: 'double'", "equation: 'dbl'").replace('demo-v1', 'other-v1'),
      'contracts/other-v1.yaml': YAML.replace(/demo-v1/g, 'other-v1'),
      'src/ops/missing.ts': `import { defineContract } from '../contract/index.js';\nconst m = defineContract<number, number>({ id: 'nowhere-v1', equation: 'e', spec: '' });\nexport function f(x: number): number { return m.run(x, () => x); }\n`,
    });
    const errors = bindContracts(dir).errors;
    expect(errors).toContain(`contracts/other-v1.yaml: equation 'dbl' (bound in src/ops/demo-contract.ts) is not defined under 'equations'`);
    expect(errors).toContain(`src/ops/missing.ts: contract 'nowhere-v1' has no contracts/nowhere-v1.yaml`);
  });
});

describe('scripts/bind-contracts.ts (the first step of npm run build)', () => {
  it('exits 1 naming the unbound op, and 0 once it is bound', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = project({
      'contracts/demo-v1.yaml': YAML,
      'src/ops/demo-contract.ts': CONTRACT,
      'src/ops/double.ts': `export function double(x: number): number { return 2 * x; }\n`,
    });
    const run = () => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bind-contracts.ts', dir], { encoding: 'utf8' });
    const failed = run();
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(`src/ops/double.ts: exported function 'double' has no contract`);
    writeFileSync(join(dir, 'src/ops/double.ts'), `import { demoContract } from './demo-contract.js';\nexport function double(x: number): number { return demoContract.run(x, () => 2 * x); }\n`);
    const passed = run();
    expect(passed.stderr).toContain('all bound');
    expect(passed.status).toBe(0);
  });
});
