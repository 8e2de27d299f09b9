import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type CallExpression, type Decorator, Node, Project, type SourceFile, type Symbol as MorphSymbol, SyntaxKind } from 'ts-morph';
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

type YamlDoc = Record<string, unknown>;

/** One bind pass: the parsed sources, the contracts' YAML (read once each) and the errors found. */
class BindPass {
  readonly errors: string[] = [];
  readonly declared = new Map<string, DeclaredContract>();
  private readonly yamlCache = new Map<string, YamlDoc | undefined>();

  constructor(
    readonly root: string,
    readonly project: Project,
  ) {}

  rel(sf: SourceFile): string {
    return relative(this.root, sf.getFilePath());
  }

  yamlOf(id: string): YamlDoc | undefined {
    if (!this.yamlCache.has(id)) this.yamlCache.set(id, readYamlContract(join(this.root, 'contracts', `${id}.yaml`)));
    return this.yamlCache.get(id);
  }

  bindingOf(node: Node): DeclaredContract | undefined {
    const key = declarationKey(node.getSymbol(), this.root);
    return key ? this.declared.get(key) : undefined;
  }
}

function collectDeclarations(pass: BindPass): void {
  for (const sf of pass.project.getSourceFiles()) {
    for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      if (call.getExpression().getText() !== 'defineContract') continue;
      const decl = call.getParentIfKind(SyntaxKind.VariableDeclaration);
      const file = pass.rel(sf);
      const id = literalProp(call, 'id');
      const equation = literalProp(call, 'equation');
      if (!decl || !id || !equation) {
        pass.errors.push(`${file}:${call.getStartLineNumber()}: defineContract needs a const declaration with literal 'id' and 'equation'`);
        continue;
      }
      pass.declared.set(`${file}#${decl.getName()}`, { id, equation, file, variable: decl.getName() });
    }
  }
}

function checkDeclarationsAgainstYaml(pass: BindPass): void {
  for (const c of pass.declared.values()) {
    const doc = pass.yamlOf(c.id);
    if (!doc) {
      pass.errors.push(`${c.file}: contract '${c.id}' has no contracts/${c.id}.yaml`);
      continue;
    }
    const eqs = doc['equations'];
    if (typeof eqs !== 'object' || eqs === null || !Object.hasOwn(eqs, c.equation)) {
      pass.errors.push(`contracts/${c.id}.yaml: equation '${c.equation}' (bound in ${c.file}) is not defined under 'equations'`);
    }
  }
}

/** The function, method or exported variable whose body contains `<contract>.run(...)`. */
function runCallOwner(pass: BindPass, call: CallExpression): [Node, DeclaredContract] | undefined {
  const expr = call.getExpression();
  if (!Node.isPropertyAccessExpression(expr) || expr.getName() !== 'run') return undefined;
  const c = pass.bindingOf(expr.getExpression());
  if (!c) return undefined;
  const owner = call.getFirstAncestor((a) => Node.isFunctionDeclaration(a) || Node.isMethodDeclaration(a) || (Node.isVariableDeclaration(a) && a.isExported()));
  return owner ? [owner, c] : undefined;
}

function decoratedMethod(pass: BindPass, dec: Decorator): [Node, DeclaredContract] | undefined {
  if (dec.getName() !== 'contract') return undefined;
  const arg = dec.getArguments()[0];
  const c = arg ? pass.bindingOf(arg) : undefined;
  const method = dec.getParent();
  return c && Node.isMethodDeclaration(method) ? [method, c] : undefined;
}

/** Bound callables: a function/method whose body calls `<contract>.run(`, or a method decorated @contract(<contract>). */
function collectBoundCallables(pass: BindPass): Map<Node, DeclaredContract> {
  const bound = new Map<Node, DeclaredContract>();
  for (const sf of pass.project.getSourceFiles()) {
    const found = [
      ...sf.getDescendantsOfKind(SyntaxKind.CallExpression).map((call) => runCallOwner(pass, call)),
      ...sf.getDescendantsOfKind(SyntaxKind.Decorator).map((dec) => decoratedMethod(pass, dec)),
    ];
    for (const hit of found) if (hit) bound.set(hit[0], hit[1]);
  }
  return bound;
}

function symbolName(node: Node): string {
  if (Node.isMethodDeclaration(node)) return `${node.getParentIfKind(SyntaxKind.ClassDeclaration)?.getName() ?? '?'}.${node.getName()}`;
  if (Node.isFunctionDeclaration(node) || Node.isVariableDeclaration(node)) return node.getName() ?? '?';
  return '?';
}

/** The exported callables of one guarded file, each with the name an error message gives it. */
function exportedCallables(sf: SourceFile): { node: Node; what: string }[] {
  const out: { node: Node; what: string }[] = [];
  for (const fn of sf.getFunctions()) if (fn.isExported()) out.push({ node: fn, what: `function '${fn.getName() ?? 'default'}'` });
  for (const v of sf.getVariableDeclarations()) {
    const init = v.getInitializer();
    if (v.isExported() && init && (Node.isArrowFunction(init) || Node.isFunctionExpression(init))) out.push({ node: v, what: `function '${v.getName()}'` });
  }
  for (const cls of sf.getClasses().filter((c) => c.isExported())) {
    for (const m of cls.getMethods()) {
      if (!m.hasModifier(SyntaxKind.PrivateKeyword) && !m.getName().startsWith('#')) out.push({ node: m, what: `method '${cls.getName() ?? '?'}.${m.getName()}'` });
    }
  }
  return out;
}

/** Every exported function or class method in ops/ and kernels/ must be bound; returns how many there are. */
function checkGuardedExports(pass: BindPass, bound: ReadonlyMap<Node, DeclaredContract>): number {
  let count = 0;
  for (const sf of pass.project.getSourceFiles()) {
    const file = pass.rel(sf);
    if (!GUARDED_DIRS.some((d) => file.startsWith(d))) continue;
    for (const { node, what } of exportedCallables(sf)) {
      count++;
      if (!bound.has(node)) pass.errors.push(`${file}: exported ${what} has no contract`);
    }
  }
  return count;
}

/** Every YAML equation must be bound by some code. */
function checkUnboundEquations(pass: BindPass, used: ReadonlySet<string>): void {
  const contractsDir = join(pass.root, 'contracts');
  if (!existsSync(contractsDir)) return;
  for (const name of pass.project.getFileSystem().readDirSync(contractsDir)) {
    const fileName = typeof name === 'string' ? name : name.name;
    const base = fileName.split('/').pop() ?? fileName;
    if (!base.endsWith('.yaml')) continue;
    const id = base.slice(0, -'.yaml'.length);
    const eqs = pass.yamlOf(id)?.['equations'];
    if (typeof eqs !== 'object' || eqs === null) continue;
    for (const eq of Object.keys(eqs)) {
      if (!used.has(`${id}#${eq}`)) pass.errors.push(`contracts/${id}.yaml: equation '${eq}' is not bound by any code`);
    }
  }
}

/**
 * The build-time binder: finds every contract declaration and use, checks each against its YAML, and
 * reports exported ops/kernels that carry no contract and YAML equations that nothing binds.
 */
export function bindContracts(root: string): BindResult {
  const project = new Project({ compilerOptions: { allowJs: false, strict: true, experimentalDecorators: false }, skipAddingFilesFromTsConfig: true });
  project.addSourceFilesAtPaths(join(root, 'src/**/*.ts'));
  const pass = new BindPass(root, project);
  collectDeclarations(pass);
  checkDeclarationsAgainstYaml(pass);
  const bound = collectBoundCallables(pass);
  const bindings = [...bound].map(([node, c]): Binding => ({
    contract: c.id,
    equation: c.equation,
    file: pass.rel(node.getSourceFile()),
    symbol: symbolName(node),
    obligations: obligationIds(pass.yamlOf(c.id) ?? {}),
  }));
  const exportedOpsAndKernels = checkGuardedExports(pass, bound);
  checkUnboundEquations(pass, new Set(bindings.map((b) => `${b.contract}#${b.equation}`)));
  bindings.sort((a, b) => a.contract.localeCompare(b.contract) || a.file.localeCompare(b.file) || a.symbol.localeCompare(b.symbol));
  return { bindings, errors: pass.errors, exportedOpsAndKernels };
}

export function writeBindingRegistry(root: string, result: BindResult): void {
  const doc = { contracts: result.bindings, unbound: result.errors, exported_ops_and_kernels: result.exportedOpsAndKernels };
  writeFileSync(join(root, 'contracts', 'binding.json'), `${JSON.stringify(doc, null, 2)}\n`);
}
