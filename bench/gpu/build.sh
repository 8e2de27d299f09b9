#!/usr/bin/env bash
# Builds the GPU benchmarks for the device machine: prepares .gpu-carry (Node, Dawn, loaders) with
# ../shared/tools/gpu-carry.sh and bundles bench/gpu/{matmul,decode,batch,profile}.ts into .gpu-carry/app/*.mjs.
# Then, on the device tool (carry [.gpu-carry]):
#   bash .gpu-carry/setup.sh && . .gpu-carry/env.sh && .gpu-carry/node .gpu-carry/app/matmul.mjs && .gpu-carry/node .gpu-carry/app/decode.mjs && .gpu-carry/node .gpu-carry/app/batch.mjs --batch 1,2,4,8,16,32
set -euo pipefail
cd "$(dirname "$0")/../.."
../shared/tools/gpu-carry.sh .gpu-carry >&2
for p in matmul decode batch profile train; do
  npx esbuild "bench/gpu/$p.ts" --bundle --platform=node --format=esm --external:webgpu \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
    --minify-whitespace --minify-syntax --outfile=".gpu-carry/app/$p.mjs" --log-level=warning
done
exclude=.git/info/exclude
if [ -f "$exclude" ] && ! grep -qx '.gpu-carry' "$exclude"; then echo '.gpu-carry' >> "$exclude"; fi
ls -la .gpu-carry/app >&2
