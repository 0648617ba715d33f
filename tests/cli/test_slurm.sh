#!/usr/bin/env bash
# test_slurm.sh — `awq-harness submit` on a real Slurm cluster (Debian 12's Slurm 22.05 and
# munge, started by tools/slurm-local in a temporary directory: one node, 2 CPUs). Not part of
# `make test` (tests/run.sh runs it only under AH_SLURM=1: `make slurm`, from .ci/run).
#  1. a 6-run sweep of the bundled model submitted as a 3-task array + merge job: the merged
#     results file holds the same runs as an unsharded run, with the same keys and perplexities;
#  2. one task cancelled (scancel) while its second run computes: the merge job merges what
#     finished and fails naming the missing run; the same submit command then submits only that
#     shard, whose task takes its finished run from its file and computes only the missing one;
#     every run recorded before is unchanged, and the merged file is complete;
#  3. the AWQ searches split over 3 tasks (`submit --split-search 3`), joined by a job: equal
#     bit for bit to the unsharded run's searches, and the runs use them.
# Skips only when the Slurm packages cannot be installed. Every daemon it starts is stopped on
# any exit (trap), after its jobs are cancelled.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
if ! tools/install-deps --slurm >/tmp/ah-slurm-install.$$ 2>&1; then
  tail -n 3 /tmp/ah-slurm-install.$$; rm -f /tmp/ah-slurm-install.$$
  skip "the Slurm packages (slurmctld, slurmd, slurm-client, munge) cannot be installed"
fi
rm -f /tmp/ah-slurm-install.$$
[ "$(id -u)" -eq 0 ] || skip "a local Slurm cluster needs root (slurmd starts jobs as their users)"
AH=$(cd "$(dirname "$AH_BIN")" && pwd)/$(basename "$AH_BIN")
tmp=$(mktemp -d)
cluster="$tmp/cluster"
cleanup() {
  if [ -f "$cluster/slurm.conf" ]; then
    ids=$(SLURM_CONF="$cluster/slurm.conf" squeue -h -o %A 2>/dev/null | sort -u)
    [ -n "$ids" ] && SLURM_CONF="$cluster/slurm.conf" scancel $ids 2>/dev/null
    for _ in $(seq 30); do
      [ -z "$(SLURM_CONF="$cluster/slurm.conf" squeue -h 2>/dev/null)" ] && break; sleep 0.5
    done
  fi
  tools/slurm-local stop "$cluster" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
out=$(tools/slurm-local start "$cluster" 2) || { cat "$cluster"/*.log 2>/dev/null | tail -n 20; fail "the local Slurm cluster did not start"; }
export SLURM_CONF="$cluster/slurm.conf"

# wait_jobs TIMEOUT ID...: until none of the jobs is pending or running; fails after TIMEOUT s.
wait_jobs() {
  local t=$1; shift
  local ids; ids=$(IFS=,; echo "$*")
  for _ in $(seq $((t * 2))); do
    [ -z "$(squeue -h -j "$ids" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  squeue; fail "jobs $ids still queued or running after $t s"
}
# job_state ID: COMPLETED, FAILED, CANCELLED, ... (scontrol keeps finished jobs MinJobAge s)
job_state() { scontrol show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
# submitted JOB: the id `submit` printed for its JOB job
submitted() { sed -n "s/^submitted $1 job \([0-9]*\) .*/\1/p" "$2"; }

# ini NAME OUTPUT CACHE METHODS: a sweep of the bundled model (lib.sh), one thread per process (so
# that a task and the unsharded run compute the same numbers; the sharded tasks get
# --cpus-per-task 1).
ini() { tinyprose_sweep_ini "$1" "$2" "$3" "$4" 10 24; }
ini sweep "$tmp/ref/sweep.h5" "$tmp/ref/cache" "rtn, minmax, awq" >"$tmp/ref.ini"
ini sweep "$tmp/slurm/sweep.h5" "$tmp/slurm/cache" "rtn, minmax, awq" >"$tmp/sweep.ini"

# The unsharded reference, outside Slurm, with its own cache (no result is shared).
"$AH" run "$tmp/ref.ini" --quiet >"$tmp/ref.out" 2>&1 || { cat "$tmp/ref.out"; fail "the unsharded run failed"; }

# same_runs A B: the same run ids, keys and perplexities (exactly) in results files A and B
same_runs() {
  $PY - "$1" "$2" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    ia, ib = sorted(a["runs"]), sorted(b["runs"])
    assert ia == ib, f"runs differ: {ia} vs {ib}"
    for i in ia:
        ra, rb = a["runs"][i], b["runs"][i]
        assert ra.attrs["key"] == rb.attrs["key"], (i, "key")
        assert ra["ppl"][()] == rb["ppl"][()], (i, ra["ppl"][()], rb["ppl"][()])
    assert len(b["summary"]) == len(ib), "summary rows"
    print(f"{len(ia)} runs equal")
PY
}

# ---- 1. 3-task array + merge job --------------------------------------------------------------
"$AH" submit "$tmp/sweep.ini" --nodes 3 --cpus-per-task 1 --time 10:00 >"$tmp/sub1" 2>&1 || { cat "$tmp/sub1"; fail "submit failed"; }
run1=$(submitted run "$tmp/sub1") merge1=$(submitted merge "$tmp/sub1")
[ -n "$run1" ] && [ -n "$merge1" ] || fail "submit did not print the run and merge job ids: $(cat "$tmp/sub1")"
grep -q '^#SBATCH --array=0-2$' "$tmp/slurm/slurm/sweep/run.sbatch" || fail "run.sbatch is not a 0-2 array"
grep -q "Dependency=afterany:${run1}_\*" <(scontrol show job "$merge1") ||
  grep -q "Dependency=afterany:$run1" <(scontrol show job "$merge1") || fail "merge job $merge1 does not depend on array $run1"
wait_jobs 300 "$run1" "$merge1"
for t in 0 1 2; do
  st=$(job_state "${run1}_$t")
  [ "$st" = COMPLETED ] || { cat "$tmp"/slurm/slurm/sweep/logs/run-*; fail "task $t: $st"; }
done
[ "$(job_state "$merge1")" = COMPLETED ] || { cat "$tmp"/slurm/slurm/sweep/logs/merge-*; fail "merge job: $(job_state "$merge1")"; }
grep -q "6 of 6 runs in" "$tmp"/slurm/slurm/sweep/logs/merge-"$merge1".out || fail "merge log: $(cat "$tmp"/slurm/slurm/sweep/logs/merge-"$merge1".out)"
same_runs "$tmp/ref/sweep.h5" "$tmp/slurm/sweep.h5" || fail "the merged file differs from the unsharded run"
# a batch log shows the progress lines of the runs
grep -q '^\[2/2\] .*: ppl ' "$tmp"/slurm/slurm/sweep/logs/run-"${run1}"_0.out || fail "no per-run progress line in the task's log"
# nothing left to do: submit says so and submits nothing
"$AH" submit "$tmp/sweep.ini" --nodes 3 >"$tmp/sub-none" 2>&1 || fail "submit of a complete sweep failed"
grep -q "nothing to submit" "$tmp/sub-none" || fail "complete sweep resubmitted: $(cat "$tmp/sub-none")"

# ---- 2. cancel one task mid-run, resubmit -------------------------------------------------------
ini sweep "$tmp/c/sweep.h5" "$tmp/c/cache" "rtn, minmax, awq" >"$tmp/cancel.ini"
"$AH" submit "$tmp/cancel.ini" --nodes 3 --cpus-per-task 1 >"$tmp/sub2" 2>&1 || { cat "$tmp/sub2"; fail "submit failed"; }
run2=$(submitted run "$tmp/sub2") merge2=$(submitted merge "$tmp/sub2")
log1="$tmp/c/slurm/sweep/logs/run-${run2}_1.out"
# shard 1/3 = rtn-w4-g64, then awq-w3-g64-search10: cancelled once its second run has started
for _ in $(seq 600); do
  grep -q '^\[2/2\] awq-w3-g64-search10 \.\.\.' "$log1" 2>/dev/null && break
  sleep 0.2
done
grep -q '^\[2/2\] awq-w3-g64-search10 \.\.\.' "$log1" || { cat "$log1"; fail "task 1 never started its second run"; }
scancel "${run2}_1"
wait_jobs 300 "$run2" "$merge2"
[ "$(job_state "${run2}_1")" = CANCELLED ] || fail "task 1 is $(job_state "${run2}_1"), not CANCELLED (finished before scancel?)"
grep -q "awq-w3-g64-search10: ppl" "$log1" && fail "task 1 finished its second run before the scancel"
[ "$(job_state "$merge2")" = FAILED ] || fail "the merge job of an incomplete sweep is $(job_state "$merge2"), not FAILED"
mlog="$tmp/c/slurm/sweep/logs/merge-$merge2.out"
grep -q "5 of 6 runs in" "$mlog" && grep -q "awq-w3-g64-search10 *shard 1/3" "$mlog" ||
  fail "merge log does not name the missing run: $(cat "$mlog")"
# what is recorded before the resubmission (every attribute of every run)
snap() {
  $PY - "$1" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    for i in sorted(f["runs"]):
        r = f["runs"][i]
        print(i, r["ppl"][()], sorted((k, str(r.attrs[k])) for k in r.attrs))
PY
}
snap "$tmp/c/sweep.h5" >"$tmp/before"
[ "$(wc -l <"$tmp/before")" -eq 5 ] || fail "want 5 runs merged before the resubmission: $(cut -c1-60 "$tmp/before")"
"$AH" submit "$tmp/cancel.ini" --nodes 3 --cpus-per-task 1 >"$tmp/sub3" 2>&1 || { cat "$tmp/sub3"; fail "resubmit failed"; }
grep -q "6 planned runs, 1 in no results file" "$tmp/sub3" || fail "resubmit: $(cat "$tmp/sub3")"
grep -q '^#SBATCH --array=1$' "$tmp/c/slurm/sweep/run.sbatch" || fail "resubmission is not the array of shard 1 only: $(grep array "$tmp/c/slurm/sweep/run.sbatch")"
run3=$(submitted run "$tmp/sub3") merge3=$(submitted merge "$tmp/sub3")
wait_jobs 300 "$run3" "$merge3"
[ "$(job_state "$merge3")" = COMPLETED ] || { cat "$tmp"/c/slurm/sweep/logs/*"$run3"* "$tmp"/c/slurm/sweep/logs/merge-"$merge3".out; fail "merge after resubmission: $(job_state "$merge3")"; }
log3="$tmp/c/slurm/sweep/logs/run-${run3}_1.out"
grep -q "rtn-w4-g64: ppl .*already complete" "$log3" || fail "the finished run was not taken from the shard file: $(cat "$log3")"
n_computed=$(grep -c ': ppl .*(computed' "$log3")
[ "$n_computed" -eq 1 ] || fail "want 1 run computed by the resubmitted task, got $n_computed: $(cat "$log3")"
snap "$tmp/c/sweep.h5" >"$tmp/after"
[ "$(wc -l <"$tmp/after")" -eq 6 ] || fail "want 6 runs after the resubmission"
grep -v '^awq-w3-g64-search10 ' "$tmp/after" | diff "$tmp/before" - >/dev/null || fail "a run recorded before the resubmission changed"
same_runs "$tmp/ref/sweep.h5" "$tmp/c/sweep.h5" || fail "the resumed sweep differs from the unsharded run"

# ---- 3. the AWQ searches split over 3 tasks -----------------------------------------------------
ini sweep-awq "$tmp/s/awq.h5" "$tmp/s/cache" "awq" >"$tmp/split.ini"
"$AH" submit "$tmp/split.ini" --nodes 2 --split-search 3 --cpus-per-task 1 >"$tmp/sub4" 2>&1 || { cat "$tmp/sub4"; fail "submit --split-search failed"; }
ids=$(sed -n 's/^submitted [a-z]* job \([0-9]*\) .*/\1/p' "$tmp/sub4" | tr '\n' ' ')
[ "$(echo $ids | wc -w)" -eq 4 ] || fail "want search, join, run and merge jobs: $(cat "$tmp/sub4")"
wait_jobs 400 $ids
for j in $ids; do
  [ "$(job_state "$j")" = COMPLETED ] || { tail -n 5 "$tmp"/s/slurm/sweep-awq/logs/*; fail "job $j: $(job_state "$j")"; }
done
search=$(submitted search "$tmp/sub4")
for t in 0 1 2; do
  st=$(job_state "${search}_$t")
  [ "$st" = COMPLETED ] || fail "search task $t: $st"
done
grep -q "block 2 of \[2, 4)" "$tmp"/s/slurm/sweep-awq/logs/search-"${search}"_1.out || fail "search task 1 did not search blocks [2, 4)"
n=0
for a in "$tmp"/ref/cache/awq/*.h5; do
  tools/awq-search-compare "$a" "$tmp/s/cache/awq/$(basename "$a")" || fail "split search under Slurm differs from the single-process search"
  n=$((n + 1))
done
[ "$n" -eq 2 ] || fail "want 2 searches in the reference cache, got $n"
$PY - "$tmp/ref/sweep.h5" "$tmp/s/awq.h5" <<'PY' || fail "runs on the split search differ"
import sys, h5py
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    assert sorted(b["runs"]) == ["awq-w3-g64-search10", "awq-w4-g64-search10"], sorted(b["runs"])
    for i in b["runs"]:
        c = b["runs"][i].attrs["cache"]
        assert (c.decode() if isinstance(c, bytes) else c) == "awq-cached", (i, c)
        assert a["runs"][i]["ppl"][()] == b["runs"][i]["ppl"][()], i
PY
echo "slurm: 6 runs over a 3-task array == unsharded; scancel + resubmit reran 1 run, lost none; split search (3 tasks) == single process"
