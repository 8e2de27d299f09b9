#!/usr/bin/env bash
# Shows that the z3 proofs' index maps are tied to the running kernels: plants one indexing bug at a time in
# a copy of the tree (codecs, row decoder) and runs test/property/proofs-tied-index.test.ts, which evaluates
# each proof's index expression with z3 and compares it with the kernel. Every plant must turn a test red.
#   usage: bash scripts/plant-kernel-bugs.sh      (from the repo root, after npm ci)
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r src test proofs contracts package.json tsconfig.json vitest.config.ts "$work/"
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"
status=0
plant() { # file, sed expression, label
  cp "$1" "$1.orig"
  sed -i "$2" "$1"
  if cmp -s "$1" "$1.orig"; then echo "plant '$3': pattern not found in $1" >&2; status=1; return; fi
  if npx vitest run test/property/proofs-tied-index.test.ts --reporter=dot >"$work/out.txt" 2>&1; then
    echo "NOT CAUGHT: $3"; status=1
  else
    echo "caught: $3 ($(grep -Eo "[0-9]+ failed" "$work/out.txt" | head -1))"
  fi
  mv "$1.orig" "$1"
}
plant src/tensor/codecs/legacy.ts 's/out\[y + j + 16\] = ((q >> 4) - 8) \* d;/out[y + j + 15] = ((q >> 4) - 8) * d;/' 'Q4_0 codec writes the high nibble to j + 15'
plant src/tensor/codecs/kquants.ts 's/(sub >> 1) \* 32/(sub >> 1) * 16/' 'Q4_K/Q5_K codec advances qs by 16 per sub-block pair'
plant src/tensor/codecs/kquants.ts 's/bytes\[sc + is + 2\]/bytes[sc + is + 1]/' 'Q6_K codec reads the second scale at stride 1'
plant src/kernels/cpu/blocks.ts 's/decode(data, row \* nb \* blockBytes, nb, out)/decode(data, row * nb * blockSize, nb, out)/' 'row decoder strides rows in elements instead of bytes'
exit $status
