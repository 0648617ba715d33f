#!/usr/bin/env bash
# summary.sh BUILD_DIR TARGET... — the table of a make fuzz run (from run-one.sh's results);
# exits 1 when any target crashed, leaked, timed out or did not run.
set -u
dir="$1"; shift
bad=0
printf '\n%-16s %-12s %8s %12s %8s\n' target status seconds executions corpus
for t in "$@"; do
  r="$dir/logs/$t.result"
  if [ -f "$r" ]; then
    read -r status secs execs corp <"$r"
  else
    status=missing secs=- execs=- corp=-
  fi
  [ "$status" = ok ] || bad=1
  printf '%-16s %-12s %8s %12s %8s\n' "$t" "$status" "$secs" "$execs" "$corp"
done
if [ $bad -ne 0 ]; then echo "fuzz: FAILED (crashing inputs under $dir/artifacts/)"; exit 1; fi
echo "fuzz: all targets clean"
