#!/usr/bin/env bash
# Mutation testing (StrykerJS, incremental: only mutants in files changed since the last run are re-tested),
# then folds the report into mutation/summary.json, which pmat's CB-045 checks against the floors.
#   usage: npm run mutation -- [folder-or-file ...]     (default: stryker.config.json's "mutate" list)
# Stryker runs in place (tests read ../shared relative to the repo): it rewrites the mutated src files while it
# runs and restores them at the end (a backup is kept in .stryker-tmp); do not edit them meanwhile.
set -euo pipefail
globs=()
for f in "$@"; do
  if [ -d "$f" ]; then globs+=("${f%/}/**/*.ts"); else globs+=("$f"); fi
done
if [ ${#globs[@]} -gt 0 ]; then
  npx stryker run --mutate "$(IFS=,; echo "${globs[*]}")"
else
  npx stryker run
fi
npx tsx scripts/mutation-summary.ts
