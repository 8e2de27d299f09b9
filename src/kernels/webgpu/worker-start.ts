import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `compiled` (its `.js` URL) for the module `here` (the caller's import.meta.url):
 * that `.js` file beside compiled code, or, from TypeScript sources (tests, tsx), the `.ts` file of the same
 * name after registering tsx's loader in the worker.
 */
function startModuleWorker(here: string, compiled: URL): Worker {
  if (!here.endsWith('.ts')) return new Worker(compiled);
  const api = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const target = compiled.href.replace(/\.js$/, '.ts');
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`, { eval: true });
}

/** Worker start-up shared by the synchronous WebGPU backend and the GPU trainer. */
export const moduleWorkers = { start: startModuleWorker } as const;
