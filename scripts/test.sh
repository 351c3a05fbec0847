#!/usr/bin/env bash
# Runs every check and test: installs what is missing, builds the native
# parts, runs fmt/lint/type checks, then the whole test suite.
# Prints a closing "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
deno task build
deno task check

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
NO_COLOR=1 deno task test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# deno test ends with "ok | 12 passed | 0 failed | 1 ignored (3s)".
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -1)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
ignored=$(grep -oE '[0-9]+ ignored' <<<"$summary" | cut -d' ' -f1 || true)
if [[ -z $summary ]]; then
  echo "tests: no test summary found (exit $rc)"
  exit 1
fi
echo "tests: ${passed} passed, ${failed} failed${ignored:+, ${ignored} skipped}"
exit "$rc"
