#!/usr/bin/env bash
# Mutation testing (StrykerJS), one target (folder or file) at a time, each folded into mutation/summary.json,
# which pmat's CB-045 checks against the floors in pmat.config.json.
#   usage: npm run mutation -- [--all | folder-or-file ...]
# --all runs every folder with a floor (the full run); with no argument it runs only the folders CB-045 would call stale (a file edited since its mutants were made, or
# new), so CI re-tests what changed. Each target has its own incremental file (mutation/incremental/): within a
# folder only the mutants of changed files, or covered by changed tests, are re-tested; the dry run runs only the
# tests mutation/tests.json lists for it. Stryker runs in place (tests read ../shared relative to the repo): it
# rewrites the target's src files while it runs and restores them at the end (backup in .stryker-tmp); do not edit
# them meanwhile, and stop it with Ctrl-C / SIGINT (never SIGKILL: it must restore them).
#   APR_MUTATION_BUDGET   seconds for all targets together (default 1200 under CI=true, else 7200): each target
#                         is limited to what is left (`timeout -s INT`: Stryker restores the files and that target
#                         stays stale, which CB-045 then reports); targets after the budget is spent are skipped
#   APR_MUTATION_NICE     niceness of the run (default 10)
#   APR_MUTATION_LABEL    a label for this run's record in mutation/summary.json's "runs" (e.g. before, after)
set -euo pipefail
plan=$(npx tsx scripts/mutation-plan.ts "$@")
if [ -z "$plan" ]; then
  echo "mutation: every folder under mutation testing has a current result"
  exit 0
fi
if [ "${CI:-}" = "true" ]; then budget=${APR_MUTATION_BUDGET:-1200}; else budget=${APR_MUTATION_BUDGET:-7200}; fi
status=0
while IFS=$'\t' read -r target config tests; do
  left=$((budget - SECONDS))
  if [ "$left" -le 60 ]; then
    echo "== mutation: $target skipped, the ${budget} s budget is spent (it stays stale)" >&2
    status=1
    continue
  fi
  echo "== mutation: $target (tests: ${tests:-every in-process test}; limit ${left} s)"
  start=$SECONDS
  if APR_MUTATION_TESTS="$tests" timeout -s INT "$left" nice -n "${APR_MUTATION_NICE:-10}" npx stryker run "$config"; then
    report=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).jsonReporter.fileName)' "$config")
    APR_MUTATION_TARGET="$target" APR_MUTATION_SECONDS=$((SECONDS - start)) npx tsx scripts/mutation-summary.ts "$report" mutation/summary.json "$config"
  else
    echo "== mutation: $target failed or timed out; its entries stay as they were" >&2
    status=1
  fi
  echo "== mutation: $target took $((SECONDS - start)) s"
done <<<"$plan"
exit $status
