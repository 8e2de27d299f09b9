import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type CallExpression, Node, Project, type Symbol as MorphSymbol, SyntaxKind } from 'ts-morph';
import { parse as parseYaml } from 'yaml';

/** A `defineContract({ id, equation })` declaration found in the source. */
interface DeclaredContract {
  id: string;
  equation: string;
  file: string;
  variable: string;
}

export interface Binding {
  contract: string;
  equation: string;
  file: string;
  symbol: string;
  obligations: string[];
}

export interface BindResult {
  bindings: Binding[];
  errors: string[];
  exportedOpsAndKernels: number;
}

const GUARDED_DIRS = ['src/ops/', 'src/kernels/'];

function literalProp(call: CallExpression, prop: string): string | undefined {
  const arg = call.getArguments()[0];
  if (!arg || !Node.isObjectLiteralExpression(arg)) return undefined;
  const p = arg.getProperty(prop);
  if (!p || !Node.isPropertyAssignment(p)) return undefined;
  const init = p.getInitializer();
  return init && Node.isStringLiteral(init) ? init.getLiteralValue() : undefined;
}

/** Follows import aliases to the declaring variable, returning "file#name". */
function declarationKey(symbol: MorphSymbol | undefined, root: string): string | undefined {
  if (!symbol) return undefined;
  const target = symbol.isAlias() ? symbol.getAliasedSymbol() : symbol;
  const decl = target?.getDeclarations()[0];
  if (!decl || !Node.isVariableDeclaration(decl)) return undefined;
  return `${relative(root, decl.getSourceFile().getFilePath())}#${decl.getName()}`;
}

function readYamlContract(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  const doc: unknown = parseYaml(readFileSync(path, 'utf8'));
  return typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
}

function obligationIds(doc: Record<string, unknown>): string[] {
  const obs = doc['proof_obligations'];
  if (!Array.isArray(obs)) return [];
  return obs.map((o) => (typeof o === 'object' && o !== null ? String((o as Record<string, unknown>)['id']) : '')).filter(Boolean);
}

/**
 * The build-time binder: finds every contract declaration and use, checks each against its YAML, and
 * reports exported ops/kernels that carry no contract and YAML equations that nothing binds.
 */
export function bindContracts(root: string): BindResult {
  const project = new Project({ compilerOptions: { allowJs: false, strict: true, experimentalDecorators: false }, skipAddingFilesFromTsConfig: true });
  project.addSourceFilesAtPaths(join(root, 'src/**/*.ts'));
  const errors: string[] = [];
  const declared = new Map<string, DeclaredContract>();

  for (const sf of project.getSourceFiles()) {
    for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      if (call.getExpression().getText() !== 'defineContract') continue;
      const decl = call.getParentIfKind(SyntaxKind.VariableDeclaration);
      const file = relative(root, sf.getFilePath());
      const id = literalProp(call, 'id');
      const equation = literalProp(call, 'equation');
      if (!decl || !id || !equation) {
        errors.push(`${file}:${call.getStartLineNumber()}: defineContract needs a const declaration with literal 'id' and 'equation'`);
        continue;
      }
      declared.set(`${file}#${decl.getName()}`, { id, equation, file, variable: decl.getName() });
    }
  }

  const yamlCache = new Map<string, Record<string, unknown> | undefined>();
  const yamlOf = (id: string): Record<string, unknown> | undefined => {
    if (!yamlCache.has(id)) yamlCache.set(id, readYamlContract(join(root, 'contracts', `${id}.yaml`)));
    return yamlCache.get(id);
  };
  for (const c of declared.values()) {
    const doc = yamlOf(c.id);
    if (!doc) {
      errors.push(`${c.file}: contract '${c.id}' has no contracts/${c.id}.yaml`);
      continue;
    }
    const eqs = doc['equations'];
    if (typeof eqs !== 'object' || eqs === null || !Object.hasOwn(eqs, c.equation)) {
      errors.push(`contracts/${c.id}.yaml: equation '${c.equation}' (bound in ${c.file}) is not defined under 'equations'`);
    }
  }

  const bindings: Binding[] = [];
  const usedContracts = new Set<string>();
  const bindingOf = (node: Node): DeclaredContract | undefined => {
    const key = declarationKey(node.getSymbol(), root);
    return key ? declared.get(key) : undefined;
  };

  // Bound callables: a function/method whose body calls `<contract>.run(`, or a method decorated @contract(<contract>).
  const boundCallables = new Map<Node, DeclaredContract>();
  for (const sf of project.getSourceFiles()) {
    for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      const expr = call.getExpression();
      if (!Node.isPropertyAccessExpression(expr) || expr.getName() !== 'run') continue;
      const c = bindingOf(expr.getExpression());
      if (!c) continue;
      const owner = call.getFirstAncestor((a) => Node.isFunctionDeclaration(a) || Node.isMethodDeclaration(a) || (Node.isVariableDeclaration(a) && a.isExported()));
      if (owner) boundCallables.set(owner, c);
    }
    for (const dec of sf.getDescendantsOfKind(SyntaxKind.Decorator)) {
      if (dec.getName() !== 'contract') continue;
      const arg = dec.getArguments()[0];
      const c = arg ? bindingOf(arg) : undefined;
      const method = dec.getParent();
      if (c && Node.isMethodDeclaration(method)) boundCallables.set(method, c);
    }
  }
  for (const [node, c] of boundCallables) {
    const symbolName = Node.isMethodDeclaration(node)
      ? `${node.getParentIfKind(SyntaxKind.ClassDeclaration)?.getName() ?? '?'}.${node.getName()}`
      : Node.isFunctionDeclaration(node) || Node.isVariableDeclaration(node)
        ? (node.getName() ?? '?')
        : '?';
    usedContracts.add(`${c.id}#${c.equation}`);
    bindings.push({ contract: c.id, equation: c.equation, file: relative(root, node.getSourceFile().getFilePath()), symbol: symbolName, obligations: obligationIds(yamlOf(c.id) ?? {}) });
  }

  // Every exported function or class method in ops/ and kernels/ must be bound.
  let exportedOpsAndKernels = 0;
  for (const sf of project.getSourceFiles()) {
    const file = relative(root, sf.getFilePath());
    if (!GUARDED_DIRS.some((d) => file.startsWith(d))) continue;
    for (const fn of sf.getFunctions()) {
      if (!fn.isExported()) continue;
      exportedOpsAndKernels++;
      if (!boundCallables.has(fn)) errors.push(`${file}: exported function '${fn.getName() ?? 'default'}' has no contract`);
    }
    for (const v of sf.getVariableDeclarations()) {
      if (!v.isExported()) continue;
      const init = v.getInitializer();
      if (!init || !(Node.isArrowFunction(init) || Node.isFunctionExpression(init))) continue;
      exportedOpsAndKernels++;
      if (!boundCallables.has(v)) errors.push(`${file}: exported function '${v.getName()}' has no contract`);
    }
    for (const cls of sf.getClasses()) {
      if (!cls.isExported()) continue;
      for (const m of cls.getMethods()) {
        if (m.hasModifier(SyntaxKind.PrivateKeyword) || m.getName().startsWith('#')) continue;
        exportedOpsAndKernels++;
        if (!boundCallables.has(m)) errors.push(`${file}: exported method '${cls.getName() ?? '?'}.${m.getName()}' has no contract`);
      }
    }
  }

  // Every YAML equation must be bound by some code.
  const contractsDir = join(root, 'contracts');
  if (existsSync(contractsDir)) {
    for (const name of project.getFileSystem().readDirSync(contractsDir)) {
      const fileName = typeof name === 'string' ? name : name.name;
      const base = fileName.split('/').pop() ?? fileName;
      if (!base.endsWith('.yaml')) continue;
      const id = base.slice(0, -'.yaml'.length);
      const eqs = yamlOf(id)?.['equations'];
      if (typeof eqs !== 'object' || eqs === null) continue;
      for (const eq of Object.keys(eqs)) {
        if (!usedContracts.has(`${id}#${eq}`)) errors.push(`contracts/${id}.yaml: equation '${eq}' is not bound by any code`);
      }
    }
  }

  bindings.sort((a, b) => a.contract.localeCompare(b.contract) || a.file.localeCompare(b.file) || a.symbol.localeCompare(b.symbol));
  return { bindings, errors, exportedOpsAndKernels };
}

export function writeBindingRegistry(root: string, result: BindResult): void {
  const doc = { contracts: result.bindings, unbound: result.errors, exported_ops_and_kernels: result.exportedOpsAndKernels };
  writeFileSync(join(root, 'contracts', 'binding.json'), `${JSON.stringify(doc, null, 2)}\n`);
}
