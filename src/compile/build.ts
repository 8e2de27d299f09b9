/**
 * The single-executable builder: bundles the runtime into one CommonJS file (esbuild), packs it with the
 * APR file and the manifest into a SEA blob (`node --experimental-sea-config`), and injects the blob into a
 * copy of the running Node binary (postject). Node's SEA mechanism, documented for Node ≥ 20.12 with assets.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANIFEST_ASSET, MODEL_ASSET } from './manifest.js';
import { loadEsbuild, postjectCli } from './tools.js';

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const RESOURCE = 'NODE_SEA_BLOB';

/** The only target this build can make: the running Node binary's `<platform>-<arch>`. */
export const hostTarget = (): string => `${process.platform}-${process.arch}`;

/** The build step failed (esbuild, the SEA blob or postject); the message is one line. */
export class CompileBuildError extends Error {
  constructor(step: string, detail: string) {
    super(`${step}: ${detail.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('warning:')) ?? 'failed'}`);
    this.name = 'CompileBuildError';
  }
}

/** The runtime's entry: the built JavaScript next to this module (npm install), else the TypeScript source. */
function runtimeEntry(): string {
  for (const ext of ['.js', '.ts']) {
    const path = fileURLToPath(new URL(`./runtime-entry${ext}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new CompileBuildError('runtime', `runtime-entry.js not found next to ${fileURLToPath(import.meta.url)}`);
}

interface RuntimeBundle {
  path: string;
  bytes: number;
  /** Modules the bundle still imports at run time (all must be Node built-ins). */
  imports: string[];
}

/** Bundles the runtime and all its dependencies into one minified CommonJS file (the same bytes from any cwd). */
export function bundleRuntime(outfile: string): RuntimeBundle {
  const esbuild = loadEsbuild();
  const entry = runtimeEntry();
  let result;
  try {
    result = esbuild.buildSync({
      absWorkingDir: dirname(entry),
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      legalComments: 'none',
      outfile,
      metafile: true,
      logLevel: 'silent',
    });
  } catch (err) {
    throw new CompileBuildError('esbuild', err instanceof Error ? err.message : String(err));
  }
  const imports = new Set<string>();
  for (const out of Object.values(result.metafile.outputs)) for (const i of out.imports) imports.add(i.path);
  const foreign = [...imports].filter((m) => !isBuiltin(m));
  if (foreign.length > 0) throw new CompileBuildError('esbuild', `the runtime bundle still imports ${foreign.join(', ')} (would need node_modules at run time)`);
  return { path: outfile, bytes: statSync(outfile).size, imports: [...imports].sort() };
}

/**
 * V8 options of the blob-writing Node. The code cache it writes holds hash tables laid out by V8's hash
 * seed, which is random per process unless the random seed is fixed; `--random-seed` (unlike `--hash-seed`)
 * is left out of the flag hash the cache is checked against, so the executable still accepts the cache.
 */
const BLOB_NODE_FLAGS: readonly string[] = ['--random-seed=1'];

/**
 * Writes the SEA blob (runtime + assets) with the running Node; returns its path. Reproducible: the blob
 * records the main script's path as given (so it is given relative to `workDir`, the node process's cwd),
 * asset names but not their paths, and a code cache made under a fixed seed.
 */
export function makeBlob(workDir: string, bundlePath: string, aprPath: string, manifestPath: string): string {
  const output = join(workDir, 'sea.blob');
  const config = join(workDir, 'sea-config.json');
  // asset paths are read by a node running in workDir (so absolute); the blob keeps only their names
  const assets = { [MODEL_ASSET]: resolve(aprPath), [MANIFEST_ASSET]: resolve(manifestPath) };
  const main = relative(workDir, bundlePath);
  writeFileSync(config, JSON.stringify({ main, output, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets }));
  const r = spawnSync(process.execPath, [...BLOB_NODE_FLAGS, '--experimental-sea-config', config], { cwd: workDir, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' } });
  if (r.status !== 0 || !existsSync(output)) throw new CompileBuildError('node --experimental-sea-config', `${r.stderr || r.stdout || r.error?.message || `exit ${r.status}`}`);
  return output;
}

/**
 * Copies the running Node binary next to `output`, injects the blob with postject and renames the copy into
 * place (so a failed build leaves no half-written executable).
 */
export function injectBlob(blobPath: string, output: string): void {
  const tmp = join(dirname(output), `.apr-tmp-${process.pid}-${Date.now()}-${basename(output)}`);
  try {
    copyFileSync(process.execPath, tmp);
    chmodSync(tmp, 0o755);
    const r = spawnSync(process.execPath, [postjectCli(), tmp, RESOURCE, blobPath, '--sentinel-fuse', SEA_FUSE], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.status !== 0) throw new CompileBuildError('postject', `${r.stderr || r.stdout || r.error?.message || `exit ${r.status}`}`);
    renameSync(tmp, output);
  } finally {
    rmSync(tmp, { force: true });
  }
}

const CHUNK = 16 << 20;

/** Byte offsets of every occurrence of `needle` (≤ CHUNK bytes) in a file, scanned in chunks. */
export function findInFile(path: string, needle: Uint8Array): number[] {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(CHUNK + needle.byteLength);
    const hits: number[] = [];
    let base = 0;
    let carry = 0;
    for (;;) {
      const n = readSync(fd, buf, carry, CHUNK, base + carry);
      const filled = carry + n;
      let at = buf.subarray(0, filled).indexOf(needle);
      while (at >= 0) {
        hits.push(base + at);
        at = buf.subarray(0, filled).indexOf(needle, at + 1);
      }
      if (n === 0) return [...new Set(hits)].sort((a, b) => a - b);
      carry = Math.min(needle.byteLength - 1, filled);
      buf.copyWithin(0, filled - carry, filled);
      base += filled - carry;
    }
  } finally {
    closeSync(fd);
  }
}
