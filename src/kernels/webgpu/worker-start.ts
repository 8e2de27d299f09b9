import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` (without extension) that sits next to the module `here` (its
 * import.meta.url): the compiled `.js` beside compiled code, or, from TypeScript sources (tests, tsx), the
 * `.ts` file after registering tsx's loader in the worker.
 */
function startModuleWorker(here: string, name: string): Worker {
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here));
  const api = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const target = new URL(`./${name}.ts`, here).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`, { eval: true });
}

/** Worker start-up shared by the synchronous WebGPU backend and the GPU trainer. */
export const moduleWorkers = { start: startModuleWorker } as const;
