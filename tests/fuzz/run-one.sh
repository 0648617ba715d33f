#!/usr/bin/env bash
# run-one.sh TARGET SECONDS BUILD_DIR — one libFuzzer run of BUILD_DIR/fuzz_TARGET (make fuzz).
#
# Reads tests/fuzz/corpus/TARGET and tests/fuzz/regressions/TARGET (never written), writes new
# inputs to BUILD_DIR/corpus/TARGET (emptied first unless FUZZ_KEEP=1) and a crashing input to
# BUILD_DIR/artifacts/TARGET/. The log goes to BUILD_DIR/logs/TARGET.log; the outcome to
# BUILD_DIR/logs/TARGET.result ("status seconds execs corpus"), read by summary.sh.
# FUZZ_MERGE=1: afterwards, merge the new inputs that add coverage into tests/fuzz/corpus/.
# Extra libFuzzer flags: FUZZ_FLAGS (e.g. FUZZ_FLAGS=-max_len=65536).
set -u
cd "$(dirname "$0")/../.."
t="$1" secs="$2" dir="$3"
rm -f "$dir/logs/$t.result"
bin="$dir/fuzz_$t"
scratch="$dir/corpus/$t" art="$dir/artifacts/$t" log="$dir/logs/$t.log"
seeds="tests/fuzz/corpus/$t" regs="tests/fuzz/regressions/$t"
[ "${FUZZ_KEEP:-}" = 1 ] || rm -rf "$scratch"
mkdir -p "$scratch" "$art" "$dir/logs"
dirs=("$scratch" "$seeds")
[ -d "$regs" ] && dirs+=("$regs")
dict=()
for d in tests/fuzz/dict/"$t".dict; do [ -f "$d" ] && dict=(-dict="$d"); done
echo "fuzz: $t for ${secs}s (log $log)"
t0=$(date +%s)
# -timeout: one input taking 10 s is a hang worth reporting; -rss_limit_mb: 2 GB per process
# (the default), so two targets side by side stay within a small machine.
# -use_value_profile: comparisons of integers and lengths guide the search (header fields).
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -use_value_profile=1 \
  -artifact_prefix="$art/" ${dict[@]+"${dict[@]}"} ${FUZZ_FLAGS:-} "${dirs[@]}" >"$log" 2>&1
rc=$?
t1=$(date +%s)
# libFuzzer's last status line: "#1234  DONE   cov: .. ft: .. corp: 56/7890b ..."; and
# "stat::number_of_executed_units: 1234" from -print_final_stats.
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
corp=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
status=ok
if [ $rc -ne 0 ]; then
  status="FAILED(rc=$rc)"
  echo "fuzz: $t FAILED, exit $rc; artifacts in $art/:"; ls "$art" | sed 's/^/  /'
  grep -E 'ERROR|SUMMARY|invariant|runtime error' "$log" | head -n 5 | sed 's/^/  /'
fi
echo "$status $((t1 - t0)) ${execs:-?} ${corp:-?}" >"$dir/logs/$t.result"
echo "fuzz: $t $status: $((t1 - t0)) s, ${execs:-?} executions, ${corp:-?} corpus entries"
if [ "${FUZZ_MERGE:-}" = 1 ] && [ $rc -eq 0 ]; then
  "$bin" -merge=1 "$seeds" "$scratch" >"$dir/logs/$t.merge.log" 2>&1 &&
    echo "fuzz: $t merged new inputs into $seeds ($(ls "$seeds" | wc -l) files)"
fi
exit 0   # summary.sh fails the make run when any target failed, after all have run
