import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Project, ts } from 'ts-morph';
import type { PmatConfig } from './config.js';
import { matchesAny } from './glob.js';
import { runProcess, sha256, ToolCache } from './tools.js';

export interface ContextOptions {
  config: PmatConfig;
  skipSlow?: boolean;
  /** Never run the test suite: read its results from the configured report files (CI runs it just before). */
  reuseResults?: boolean;
  cache?: boolean;
  now?: Date;
}

const TS_FILE = /\.(ts|tsx|mts|cts)$/;
const HASHED_INPUT = /\.(ts|tsx|mts|cts|js|mjs|cjs|json|ya?ml)$/;
const ALWAYS_EXCLUDED = ['node_modules/**', '.git/**'];

/** Everything a check may read about the project under analysis, loaded once and shared. */
export class ProjectContext {
  readonly tsFiles: readonly string[];
  readonly sourceFiles: readonly string[];
  readonly testFiles: readonly string[];
  readonly libraryFiles: readonly string[];
  readonly skipSlow: boolean;
  readonly reuseResults: boolean;
  readonly now: Date;
  readonly cache: ToolCache;
  private readonly texts = new Map<string, string | undefined>();
  private readonly memos = new Map<string, unknown>();
  private morph: Project | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** External tools (tsc, eslint, vitest) running at once: each is itself multi-threaded or heavy. */
  readonly toolConcurrency = 2;

  private constructor(
    readonly root: string,
    readonly config: PmatConfig,
    /** Project-relative POSIX paths of every non-ignored file, after `paths.exclude`. */
    readonly files: readonly string[],
    /** `git ls-files` output, or undefined outside a git work tree. */
    readonly tracked: ReadonlySet<string> | undefined,
    opts: ContextOptions,
  ) {
    const p = config.paths;
    this.tsFiles = files.filter((f) => TS_FILE.test(f) && !f.endsWith('.d.ts'));
    this.testFiles = this.tsFiles.filter((f) => matchesAny(f, p.tests));
    const tests = new Set(this.testFiles);
    this.sourceFiles = this.tsFiles.filter((f) => !tests.has(f) && matchesAny(f, p.source));
    this.libraryFiles = this.sourceFiles.filter((f) => matchesAny(f, p.library) && !matchesAny(f, p.cli));
    this.skipSlow = opts.skipSlow ?? false;
    this.reuseResults = opts.reuseResults ?? false;
    this.now = opts.now ?? new Date();
    this.cache = new ToolCache(root, opts.cache ?? true);
  }

  static async create(root: string, opts: ContextOptions): Promise<ProjectContext> {
    const [tracked, listed] = await Promise.all([gitFiles(root, ['ls-files', '-z']), gitFiles(root, ['ls-files', '-z', '-co', '--exclude-standard'])]);
    const all = (listed ? [...listed] : walk(root)).filter((f) => existsSync(join(root, f)));
    const excluded = [...ALWAYS_EXCLUDED, ...opts.config.paths.exclude];
    const files = [...new Set(all)].filter((f) => !matchesAny(f, excluded)).sort();
    return new ProjectContext(root, opts.config, files, tracked, opts);
  }

  abs(rel: string): string {
    return join(this.root, rel);
  }

  exists(rel: string): boolean {
    return existsSync(this.abs(rel));
  }

  /** File text, or undefined when the file does not exist or cannot be read. */
  text(rel: string): string | undefined {
    if (!this.texts.has(rel)) {
      let t: string | undefined;
      try {
        t = readFileSync(this.abs(rel), 'utf8');
      } catch {
        t = undefined;
      }
      this.texts.set(rel, t);
    }
    return this.texts.get(rel);
  }

  /** Parsed JSON, or undefined when absent or invalid. */
  json(rel: string): unknown {
    const t = this.text(rel);
    if (t === undefined) return undefined;
    try {
      return JSON.parse(t);
    } catch {
      return undefined;
    }
  }

  packageJson(): Record<string, unknown> | undefined {
    const pkg = this.json('package.json');
    return pkg && typeof pkg === 'object' && !Array.isArray(pkg) ? (pkg as Record<string, unknown>) : undefined;
  }

  /** Computes an analysis once per run and shares it between checks. */
  memo<T>(key: string, compute: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, compute());
    return this.memos.get(key) as T;
  }

  /** The ts-morph project over every analysed TypeScript file, with the project's compiler options. */
  project(): Project {
    if (!this.morph) {
      const tsconfig = this.abs('tsconfig.json');
      this.morph = existsSync(tsconfig)
        ? new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true })
        : new Project({ compilerOptions: { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext } });
      for (const f of this.tsFiles) this.morph.addSourceFileAtPath(this.abs(f));
    }
    return this.morph;
  }

  /** The compiler's syntax tree of a project file (parsed once). */
  sourceFile(rel: string): ts.SourceFile {
    const sf = this.project().getSourceFileOrThrow(this.abs(rel));
    return sf.compilerNode;
  }

  typeChecker(): ts.TypeChecker {
    return this.project().getTypeChecker().compilerObject;
  }

  /** Runs an external tool when a slot is free. */
  async withToolSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.toolConcurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Hash of every code and config file: the cache key of tool results. */
  inputsHash(): string {
    return this.memo('inputsHash', () => {
      const parts: (string | Buffer)[] = [];
      for (const f of this.files.filter((x) => HASHED_INPUT.test(x))) {
        parts.push(f);
        try {
          parts.push(readFileSync(this.abs(f)));
        } catch {
          parts.push('<unreadable>');
        }
      }
      return sha256(parts);
    });
  }

  /** Latest modification time (ms) of the code and config files; reports older than it are stale. */
  newestInputMtime(ignore: readonly string[] = []): number {
    let newest = 0;
    for (const f of this.files) {
      if (!HASHED_INPUT.test(f) || ignore.includes(f)) continue;
      try {
        newest = Math.max(newest, statSync(this.abs(f)).mtimeMs);
      } catch {
        // vanished while we looked: not an input any more
      }
    }
    return newest;
  }
}

/** Output of a `git ls-files` command, or undefined outside a git work tree. */
async function gitFiles(root: string, args: string[]): Promise<Set<string> | undefined> {
  const r = await runProcess('git', args, { cwd: root });
  if (r.code !== 0) return undefined;
  return new Set(r.stdout.split('\0').filter((f) => f.length > 0));
}

const WALK_SKIP = new Set(['node_modules', '.git', 'dist', 'coverage']);

function walk(root: string, dir = root, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (WALK_SKIP.has(e.name)) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) walk(root, full, out);
    else if (e.isFile()) out.push(relative(root, full).split(sep).join('/'));
  }
  return out;
}
