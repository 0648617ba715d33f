#!/usr/bin/env bash
# Runs the whole suite: every unit test program (build/tests/test_*, cmocka) and every CLI
# test script (tests/cli/*.sh). Exit code 77 from a test means "skipped" (e.g. ../shared absent)
# and the test prints why. Ends with one summary line "tests: N passed, N failed, N skipped".
# A line "start cli/NAME" comes before each CLI test (some run for minutes), so the suite is
# never silent while one runs; unit tests take a few seconds and print only their result.
#
# Environment: AH_BIN (binary under test, default ./awq-harness), AH_QUICK=1 (reference tests
# check a subset of their configurations: the sanitizer pass), AH_TEST_DIR (unit test
# programs, default build/tests), AH_VERBOSE=1 for chatty tests, AH_ONLY=pattern to filter,
# AH_INTEROP=1 to include tests/cli/test_interop_*.sh (real runtimes built or installed outside
# the repository; `make interop` runs them, `make test` does not), AH_SLURM=1 to include
# tests/cli/test_slurm.sh (a real Slurm cluster; `make slurm`, not `make test`).
set -u
cd "$(dirname "$0")/.."
export AH_BIN="${AH_BIN:-./awq-harness}"
test_dir="${AH_TEST_DIR:-build/tests}"
pass=0; fail=0; skip=0; failed=()
run_one() {   # name, command...
  local name="$1"; shift
  if [ -n "${AH_ONLY:-}" ] && [[ "$name" != *"$AH_ONLY"* ]]; then return; fi
  local t0=$SECONDS out rc
  [[ "$name" == cli/* ]] && printf 'start %s\n' "$name"
  out=$("$@" 2>&1); rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); printf 'PASS  %-40s %3ss\n' "$name" "$dt"
    [ -n "${AH_VERBOSE:-}" ] && printf '%s\n' "$out"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(printf '%s' "$out" | tail -n 1)"
  else
    fail=$((fail + 1)); failed+=("$name"); printf 'FAIL  %-40s %3ss (exit %d)\n' "$name" "$dt" "$rc"
    printf '%s\n' "$out" | tail -n 40 | sed 's/^/      /'
  fi
}
for t in "$test_dir"/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.d) continue;; esac
  run_one "unit/$(basename "$t")" "$t"
done
for t in tests/cli/*.sh; do
  case "$t" in */lib.sh) continue;; esac
  case "$t" in */test_interop_*) [ -n "${AH_INTEROP:-}" ] || continue;; esac
  case "$t" in */test_slurm.sh) [ -n "${AH_SLURM:-}" ] || continue;; esac
  [ -f "$t" ] || continue
  run_one "cli/$(basename "$t" .sh)" bash "$t"
done
echo
if [ $fail -gt 0 ]; then echo "failed: ${failed[*]}"; fi
echo "tests: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
