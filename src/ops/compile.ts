/**
 * `apr compile`: a model and its runtime as one executable file (Node's single executable applications):
 * the weights become an APR asset (imported or quantized first), the runtime a bundled script, both injected
 * into a copy of the running Node binary.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { bundleRuntime, findInFile, hostTarget, injectBlob, makeBlob } from '../compile/build.js';
import { MANIFEST_FORMAT, MODEL_ASSET, type Manifest } from '../compile/manifest.js';
import { requireTools } from '../compile/tools.js';
import { defineContract } from '../contract/index.js';
import { readApr } from '../formats/apr/index.js';
import { checkOutputPath } from '../formats/atomic-write.js';
import { FormatError } from '../formats/errors.js';
import { detectFormat } from '../formats/open.js';
import { sourceDateTime } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import { Sha256Digest } from '../tensor/digest.js';
import { isSchemeName } from '../tensor/quant/recipes.js';
import { importModel } from './model-io.js';
import { quantizeModel } from './quantize.js';
import { TOOL_VERSION } from './version.js';

export interface CompileOptions {
  input: string;
  output: string;
  /** Quantize the weights first (a scheme of `apr quantize`). */
  quantize?: string;
  /** `<platform>-<arch>`; only the running Node's platform is supported (default). */
  target?: string;
  /** The name the executable reports (default: the output's file name). */
  name?: string;
  /** Called as each step starts (for progress on stderr). */
  onStep?: (step: CompileStep) => void;
}

export type CompileStep = 'weights' | 'bundle' | 'blob' | 'inject' | 'verify';

export interface CompileResult {
  input: string;
  output: string;
  target: string;
  quantize: string | null;
  /** Size of the executable and its parts: the Node runtime, the bundled JavaScript, the APR weights, and the rest (the V8 code cache of the bundle, ~0.45 MB; SEA blob header; section alignment). */
  bytes: { total: number; node_runtime: number; js_bundle: number; weights: number; other: number };
  /** The embedded APR file: its digest and its byte offset inside the executable. */
  weights: { sha256: string; offset: number };
  /** Modules the runtime imports at run time (Node built-ins only). */
  bundle_imports: string[];
  seconds: Record<CompileStep | 'total', number>;
}

function samePath(a: string, b: string): boolean {
  if (!existsSync(b)) return resolve(a) === resolve(b);
  return realpathSync(a) === realpathSync(b);
}

/** SHA-256 of `length` bytes at `offset` of a file. */
function regionDigest(path: string, offset: number, length: number): string {
  const fd = openSync(path, 'r');
  try {
    const d = new Sha256Digest();
    const buf = new Uint8Array(Math.min(length, 4 << 20));
    for (let done = 0; done < length; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.byteLength, length - done), offset + done);
      if (n === 0) return 'truncated';
      d.update(buf.subarray(0, n));
      done += n;
    }
    return d.digest();
  } finally {
    closeSync(fd);
  }
}

export const compileContract = defineContract<CompileOptions, CompileResult>({
  id: 'op-compile-v1',
  equation: 'compile',
  spec: 'exe(m) = node ⊕ sea(bundle(runtime), apr(m)); the APR bytes are embedded verbatim; run(exe(m), p) = run(apr(m), p)',
  pre: [
    ['input exists', ({ input }) => existsSync(input)],
    ['output is not the input', ({ input, output }) => !samePath(input, output)],
  ],
  post: [
    ['the APR file is embedded byte for byte', (_i, r) => regionDigest(r.output, r.weights.offset, r.bytes.weights) === r.weights.sha256],
    ['the runtime imports only Node built-ins', (_i, r) => r.bundle_imports.every((m) => isBuiltin(m))],
    ['the parts add up to the executable', (_i, r) => r.bytes.other >= 0 && r.bytes.total === statSync(r.output).size],
    ['the output is executable', (_i, r) => (statSync(r.output).mode & 0o111) !== 0],
  ],
});

function checkOptions(opts: CompileOptions): string {
  checkOutputPath(opts.output);
  requireTools();
  const target = opts.target ?? hostTarget();
  if (target !== hostTarget()) throw new FormatError(opts.output, '--target', `only the running Node's platform ${hostTarget()} can be built here, got '${target}'`);
  if (opts.quantize !== undefined && !isSchemeName(opts.quantize)) throw new FormatError(opts.input, '--quantize', `unknown scheme '${opts.quantize}'`);
  return target;
}

/** The APR file to embed: the input itself, or an import/quantization of it into `workDir`. */
function weightsFile(opts: CompileOptions, workDir: string): string {
  const out = join(workDir, MODEL_ASSET);
  if (opts.quantize !== undefined) return quantizeModel({ input: opts.input, output: out, scheme: opts.quantize, format: 'apr' }).output;
  if (detectFormat(opts.input) !== 'apr') return importModel({ input: opts.input, output: out, format: 'apr' }).output;
  readApr(opts.input, { verifyFooter: true }).tensors.close();
  return opts.input;
}

function manifestOf(opts: CompileOptions, target: string, aprPath: string): Manifest {
  const time = sourceDateTime();
  return {
    format: MANIFEST_FORMAT,
    name: opts.name ?? basename(opts.output),
    weights: { asset: MODEL_ASSET, bytes: statSync(aprPath).size, sha256: sourceDigest(aprPath) },
    quantize: opts.quantize ?? null,
    target,
    node_version: process.version,
    tool_version: TOOL_VERSION,
    provenance: {
      op: 'compile',
      options: { target, ...(opts.quantize !== undefined ? { quantize: opts.quantize } : {}) },
      inputDigests: [sourceDigest(opts.input)],
      toolVersion: TOOL_VERSION,
      ...(time !== undefined ? { time } : {}),
    },
  };
}

/** The only offset where the APR file's first 64 bytes (header with its CRC) occur in the executable. */
function weightsOffset(exe: string, aprPath: string): number {
  const fd = openSync(aprPath, 'r');
  const head = new Uint8Array(64);
  try {
    readSync(fd, head, 0, 64, 0);
  } finally {
    closeSync(fd);
  }
  const hits = findInFile(exe, head);
  if (hits.length !== 1 || hits[0] === undefined) throw new FormatError(exe, MODEL_ASSET, `expected the embedded APR header once, found it ${hits.length} times`);
  return hits[0];
}

function build(opts: CompileOptions): CompileResult {
  const target = checkOptions(opts);
  const seconds: CompileResult['seconds'] = { weights: 0, bundle: 0, blob: 0, inject: 0, verify: 0, total: 0 };
  const t0 = performance.now();
  const step = <T>(name: CompileStep, fn: () => T): T => {
    opts.onStep?.(name);
    const t = performance.now();
    try {
      return fn();
    } finally {
      seconds[name] = (performance.now() - t) / 1000;
    }
  };
  const workDir = mkdtempSync(join(tmpdir(), 'apr-compile-'));
  try {
    const aprPath = step('weights', () => weightsFile(opts, workDir));
    const manifest = manifestOf(opts, target, aprPath);
    const manifestPath = join(workDir, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const bundle = step('bundle', () => bundleRuntime(join(workDir, 'runtime.cjs')));
    const blob = step('blob', () => makeBlob(workDir, bundle.path, aprPath, manifestPath));
    step('inject', () => injectBlob(blob, opts.output));
    const offset = step('verify', () => weightsOffset(opts.output, aprPath));
    seconds.total = (performance.now() - t0) / 1000;
    const total = statSync(opts.output).size;
    const node = statSync(process.execPath).size;
    const weights = manifest.weights.bytes;
    return {
      input: opts.input,
      output: opts.output,
      target,
      quantize: manifest.quantize,
      bytes: { total, node_runtime: node, js_bundle: bundle.bytes, weights, other: total - node - bundle.bytes - weights },
      weights: { sha256: manifest.weights.sha256, offset },
      bundle_imports: bundle.imports,
      seconds,
    };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** `apr compile`: writes `opts.output`, an executable that runs the model without Node.js or apr installed. */
export function compileModel(opts: CompileOptions): CompileResult {
  return compileContract.run(opts, () => build(opts));
}
