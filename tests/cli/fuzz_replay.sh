#!/usr/bin/env bash
# Replays every committed fuzz input (tests/fuzz/corpus/<target>/ and the inputs that once
# crashed a parser, tests/fuzz/regressions/<target>/) through each fuzz target's entry function,
# built by the Makefile with the normal compiler as $AH_TEST_DIR/fuzz_<target> (and with
# ASan + UBSan under make test-asan). A crash, sanitizer report or failed invariant fails the
# test. libFuzzer itself is only used by `make fuzz` (tests/fuzz/README.md).
set -u
cd "$(dirname "$0")/../.."
dir="${AH_TEST_DIR:-build/tests}"
targets=$(sed -n 's/^FUZZ_TARGETS := //p' Makefile)
[ -n "$targets" ] || { echo "fuzz_replay: no FUZZ_TARGETS in the Makefile"; exit 1; }
fail=0
for t in $targets; do
  bin="$dir/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz_replay: $bin missing (make tests builds it)"; fail=1; continue
  fi
  inputs=("tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && inputs+=("tests/fuzz/regressions/$t")
  n=$(find "${inputs[@]}" -type f | wc -l)
  [ "$n" -gt 0 ] || { echo "fuzz_replay: $t has no inputs"; fail=1; continue; }
  if out=$("$bin" "${inputs[@]}" 2>&1); then
    echo "fuzz_replay: $t: $out"
  else
    echo "fuzz_replay: $t FAILED:"; printf '%s\n' "$out" | tail -n 30; fail=1
  fi
done
exit $fail
