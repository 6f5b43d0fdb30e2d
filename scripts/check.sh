#!/usr/bin/env bash
# What `npm test` runs before the tests: lint, typecheck and build, side by
# side (each is one single-threaded process; together they take about as
# long as lint alone), each one's output printed in turn. Fails if any fails.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
steps=(lint typecheck build)
pids=()
for step in "${steps[@]}"; do
  npm run --silent "$step" >"$out/$step" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!steps[@]}"; do
  if ! wait "${pids[$i]}"; then
    status=1
    printf 'npm run %s failed:\n' "${steps[$i]}"
  fi
  cat "$out/${steps[$i]}"
done
[ "$status" -ne 0 ] || echo "check: lint, typecheck and build passed"
exit "$status"
