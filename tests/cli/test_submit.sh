#!/usr/bin/env bash
# test_submit.sh — `awq-harness submit` without a cluster (tests/cli/test_slurm.sh runs it on a
# real Slurm; this one is in `make test`):
#  1. --dry-run prints the search, join, run and merge scripts (valid bash, the right arrays,
#     #SBATCH settings, quoted paths) and the sbatch commands with their dependencies, and
#     writes nothing;
#  2. with shard 0 of 3 run locally (`run --shard 0/3`), only shards 1 and 2 are planned; once
#     merged, `--check` names the missing runs and exits 1, and 0 when every run is there;
#  3. the submission itself, through a stand-in `sbatch` on PATH that records its arguments:
#     ids chained as afterok / afterany dependencies, scripts and logs/ written; a failing
#     sbatch is one error line; bad options are one-line errors.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ROOT=$(pwd)
AH=$(cd "$(dirname "$AH_BIN")" && pwd)/$(basename "$AH_BIN")
# A 6-run sweep of the llama-gqa fixture; a results directory with a quote and a space in it.
out="$tmp/it's here"
mkdir -p "$out"
cat >"$tmp/sw.ini" <<EOF
[experiment]
name = subm
output = $out/subm.h5
cache = $tmp/cache
seed = 3
threads = 1
[model]
path = $ROOT/tests/fixtures/llama-gqa
[calibration]
data = text:$ROOT/tests/fixtures/text/calib.txt
samples = 4
seqlen = 32
[evaluation]
data = text:$ROOT/tests/fixtures/text/eval.txt
seqlen = 32
max_windows = 2
[sweep]
method = rtn, minmax, awq
bits = 3, 4
group_size = 32
grid = 4
EOF

# 1. dry run
"$AH" submit "$tmp/sw.ini" --nodes 3 --split-search 2 --partition cpu --time 1:00:00 --mem 4G \
  --cpus-per-task 2 --account proj1 --sbatch-arg=--qos=low --dry-run >"$tmp/dry" 2>&1 || { cat "$tmp/dry"; fail "dry run failed"; }
[ ! -e "$out/slurm" ] || fail "--dry-run wrote $out/slurm"
grep -q "subm: 6 planned runs, 6 in no results file" "$tmp/dry" || fail "dry run: $(head -3 "$tmp/dry")"
for j in search join run merge; do
  grep -q "^== $out/slurm/subm/$j.sbatch$" "$tmp/dry" || fail "no $j script in the dry run"
done
for l in "--array=0-1" "--array=0-2" "--partition=cpu" "--time=1:00:00" "--mem=4G" "--cpus-per-task=2" \
         "--account=proj1" "--qos=low" "--job-name=ah-subm-merge"; do
  grep -q -- "^#SBATCH $l\$" "$tmp/dry" || fail "dry run lacks '#SBATCH $l'"
done
grep -q -- "--dependency=afterok:<previous job> --kill-on-invalid-dep=yes $out/slurm/subm/run.sbatch" "$tmp/dry" || fail "run job not afterok"
grep -q -- "--dependency=afterany:<previous job> --kill-on-invalid-dep=yes $out/slurm/subm/merge.sbatch" "$tmp/dry" || fail "merge job not afterany"
grep -q -- 'search "$ini" --part "$SLURM_ARRAY_TASK_ID/2"' "$tmp/dry" || fail "search tasks do not run --part I/2"
grep -q -- 'run "$ini" --shard "$SLURM_ARRAY_TASK_ID/3"' "$tmp/dry" || fail "run tasks do not run --shard I/3"
# each script is valid bash, and the quoted results path survives the shell
awk -v d="$tmp/s" '/^== .*\.sbatch$/{f=d "." ++n; next} /^== sbatch/{f=""} f{print > f}' "$tmp/dry"
for f in "$tmp"/s.*; do bash -n "$f" || fail "script $f is not valid bash"; done
merge_script=$(grep -l 'merge "$out"' "$tmp"/s.*)
( eval "$(grep '^out=' "$merge_script")"; [ "$out" = "$tmp/it's here/subm.h5" ] ) || fail "the results path is not quoted right in the merge script"

# 2. shard 0 run here; then only shards 1 and 2 are left
"$AH" run "$tmp/sw.ini" --shard 0/3 --quiet >/dev/null 2>&1 || fail "run --shard 0/3 failed"
"$AH" submit "$tmp/sw.ini" --nodes 3 --dry-run >"$tmp/dry2" 2>&1 || fail "second dry run failed"
grep -q "6 planned runs, 4 in no results file" "$tmp/dry2" || fail "dry run 2: $(head -1 "$tmp/dry2")"
grep -q '^#SBATCH --array=1-2$' "$tmp/dry2" || fail "want the array of shards 1-2: $(grep array "$tmp/dry2")"
grep -q "search.sbatch" "$tmp/dry2" && fail "search job without --split-search"
"$AH" submit "$tmp/sw.ini" --nodes 3 --check >"$tmp/check" 2>&1 && fail "--check passed with runs missing"
grep -q "0 of 6 runs in" "$tmp/check" || fail "check: $(cat "$tmp/check")"
"$AH" merge "$out/subm.h5" "$out/subm.shard-0-of-3.h5" >/dev/null || fail "merge failed"
"$AH" submit "$tmp/sw.ini" --nodes 3 --check >"$tmp/check" 2>&1 && fail "--check passed with runs missing"
grep -q "2 of 6 runs in" "$tmp/check" && [ "$(grep -c 'shard [12]/3' "$tmp/check")" -eq 4 ] || fail "check: $(cat "$tmp/check")"
"$AH" submit "$tmp/sw.ini" --nodes 3 --all --dry-run | grep -q '^#SBATCH --array=0-2$' || fail "--all does not submit every shard"
for i in 1 2; do "$AH" run "$tmp/sw.ini" --shard $i/3 --quiet >/dev/null 2>&1 || fail "run --shard $i/3 failed"; done
# every run in a shard file but not merged: only the merge job is planned
"$AH" submit "$tmp/sw.ini" --nodes 3 --dry-run >"$tmp/dry3" 2>&1
grep -q "0 in no results file, 4 in shard files not yet merged" "$tmp/dry3" || fail "dry run 3: $(head -1 "$tmp/dry3")"
[ "$(grep -c '^== /.*\.sbatch$' "$tmp/dry3")" -eq 1 ] && grep -q "merge.sbatch" "$tmp/dry3" || fail "want the merge job alone"
grep -q -- "--dependency" "$tmp/dry3" && fail "a lone merge job has no dependency"
"$AH" merge "$out/subm.h5" "$out"/subm.shard-*.h5 >/dev/null || fail "merge 2 failed"
"$AH" submit "$tmp/sw.ini" --nodes 3 --check >"$tmp/check" 2>&1 || fail "check of a complete sweep: $(cat "$tmp/check")"
"$AH" submit "$tmp/sw.ini" --nodes 3 | grep -q "nothing to submit" || fail "complete sweep not recognised"

# 3. the submission through a stand-in sbatch
mkdir "$tmp/bin"
cat >"$tmp/bin/sbatch" <<'EOF'
#!/bin/bash
# stand-in: records the arguments, prints job ids 101, 102, ... (--parsable), fails on request
echo "$*" >>"$SBATCH_LOG"
n=$(wc -l <"$SBATCH_LOG")
case "$*" in *"$SBATCH_FAIL_ON"*) [ -n "$SBATCH_FAIL_ON" ] && { echo "sbatch: error: Invalid partition name specified" >&2; exit 1; } ;; esac
echo "$((100 + n));cluster1"
EOF
chmod +x "$tmp/bin/sbatch"
sed "s#^output = .*#output = $tmp/f/subm.h5#" "$tmp/sw.ini" >"$tmp/f.ini"
export SBATCH_LOG="$tmp/sbatch.log" SBATCH_FAIL_ON=""
PATH="$tmp/bin:$PATH" "$AH" submit "$tmp/f.ini" --nodes 2 --split-search 3 >"$tmp/sub" 2>&1 || { cat "$tmp/sub"; fail "submit through the stand-in failed"; }
[ "$(wc -l <"$SBATCH_LOG")" -eq 4 ] || fail "want 4 sbatch calls: $(cat "$SBATCH_LOG")"
sed -n 1p "$SBATCH_LOG" | grep -q -- "^--parsable $tmp/f/slurm/subm/search.sbatch$" || fail "call 1: $(sed -n 1p "$SBATCH_LOG")"
sed -n 2p "$SBATCH_LOG" | grep -q -- "--dependency=afterok:101 --kill-on-invalid-dep=yes .*/join.sbatch$" || fail "call 2: $(sed -n 2p "$SBATCH_LOG")"
sed -n 3p "$SBATCH_LOG" | grep -q -- "--dependency=afterok:102 --kill-on-invalid-dep=yes .*/run.sbatch$" || fail "call 3: $(sed -n 3p "$SBATCH_LOG")"
sed -n 4p "$SBATCH_LOG" | grep -q -- "--dependency=afterany:103 --kill-on-invalid-dep=yes .*/merge.sbatch$" || fail "call 4: $(sed -n 4p "$SBATCH_LOG")"
grep -q "^submitted merge job 104 " "$tmp/sub" || fail "submit output: $(cat "$tmp/sub")"
[ -d "$tmp/f/slurm/subm/logs" ] && [ -f "$tmp/f/slurm/subm/merge.sbatch" ] || fail "scripts or logs/ not written"
errors=0
: >"$SBATCH_LOG"; export SBATCH_FAIL_ON=run.sbatch
expect_error sbatch-fails "sbatch .*run.sbatch failed: sbatch: error: Invalid partition name specified; the jobs submitted before it are still queued \\(scancel 101 102\\)" -- \
  env PATH="$tmp/bin:$PATH" "$AH" submit "$tmp/f.ini" --nodes 2 --split-search 3
expect_error no-nodes "expected one experiment file and --nodes N" -- "$AH" submit "$tmp/f.ini"
expect_error zero-nodes "--nodes" -- "$AH" submit "$tmp/f.ini" --nodes 0
expect_error too-many-nodes "--nodes 7 is more than the 6 planned runs" -- "$AH" submit "$tmp/f.ini" --nodes 7
expect_error newline "holds a newline" -- "$AH" submit "$tmp/f.ini" --nodes 2 --partition "$(printf 'a\nb')"
expect_error bad-ini "cannot|no such|not" -- "$AH" submit "$tmp/none.ini" --nodes 2
[ "$errors" -eq 0 ] || fail "$errors of $cases error cases failed"
echo "submit: dry run, resubmission plans, --check, sbatch chain; $cases error cases"
