/** Running llama.cpp's gguf-py numpy dequantizer (test/golden/gguf-py-dequant.py) for the IQ/TQ golden tests. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const candidates = [process.env['APR_LLAMA_CPP_SRC'], '.llama-cpp/src', '../llama-cpp/src', '.cache/llama-cpp/src'];
/** llama.cpp's source tree holding gguf-py: $APR_LLAMA_CPP_SRC, else ./.llama-cpp/src, ../llama-cpp/src or ./.cache/llama-cpp/src. */
const src = candidates.find((d): d is string => d !== undefined && existsSync(join(d, 'gguf-py/gguf/quants.py')));

function numpyWorks(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the gguf-py comparisons cannot run here, or undefined when they can. */
export const ggufPySkip: string | undefined = src === undefined
  ? 'gguf-py not found: set APR_LLAMA_CPP_SRC to a llama.cpp source tree (or build it with ../shared/tools/build-llama-cpp.sh)'
  : numpyWorks() ? undefined : 'python3 with numpy not found (gguf-py needs it)';

/** gguf-py's dequantization of each (ggml type name, raw blocks), in one python run; files go under `dir`. */
export function ggufPyDequantize(dir: string, jobs: readonly (readonly [string, Uint8Array])[]): Float32Array[] {
  const args = [resolve('test/golden/gguf-py-dequant.py')];
  jobs.forEach(([type, bytes], i) => {
    writeFileSync(join(dir, `in-${i}.bin`), bytes);
    args.push(type, join(dir, `in-${i}.bin`), join(dir, `out-${i}.f32`));
  });
  execFileSync('python3', args, { env: { ...process.env, PYTHONPATH: resolve(src ?? '.', 'gguf-py') }, stdio: ['ignore', 'ignore', 'pipe'] });
  return jobs.map((_j, i) => {
    const b = readFileSync(join(dir, `out-${i}.f32`));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  });
}

/** Positions of values whose float32 bits differ (so −0 ≠ +0 and NaN payloads count), at most `limit` of them. */
export function bitDifferences(a: Float32Array, b: Float32Array, limit = 5): string[] {
  if (a.length !== b.length) return [`lengths ${a.length} vs ${b.length}`];
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const out: string[] = [];
  for (let i = 0; i < ua.length && out.length < limit; i++) if (ua[i] !== ub[i]) out.push(`[${i}] ${a[i]} vs ${b[i]}`);
  return out;
}
