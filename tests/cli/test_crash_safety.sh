#!/usr/bin/env bash
# test_crash_safety.sh — `awq-harness run` never loses or corrupts a run (results/README.md,
# "Never losing a run"), on a 5-run sweep of the committed llama-gqa fixture:
#  1. 20 SIGKILLs (AH_QUICK=1, the sanitizer pass: 12, each kill point once): 12 at test kill
#     points inside the writes (AH_TEST_KILL_AT, store_internal.h: a run file half written, the
#     results file half copied, the run copied into the open HDF5 temporary, before and after
#     the rename, ...) and 8 at random moments, some of them during a resume. After each kill: the results file opens
#     (h5py and h5ls), holds complete runs only, each once, equal to an uninterrupted run's;
#     kills at a commit kill point leave exactly the runs committed before (or, after the
#     rename, including) that commit. The resume finishes the sweep with results equal to the
#     uninterrupted run's (ppl, key, nll_per_window, every per-layer dataset) and leaves no
#     temporary file beside the results file or in the caches.
#  2. Temporaries in a cache folder that belong to a live process are left alone; those of
#     dead processes are removed.
#  3. A full disk: under `ulimit -f` the sweep stops with one line naming the results file
#     ("write failed: File too large"), no HDF5 error stack, exit 1, the runs committed
#     before intact; resuming without the limit finishes it. A run cache that cannot be written
#     fails each run with a clear message; an AWQ cache that cannot be written is a warning.
#     With root (mount allowed), the same on a small tmpfs ("No space left on device").
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
command -v h5ls >/dev/null || fail "h5ls is needed (hdf5-tools; make deps installs it)"
tmp=$(mktemp -d)
mounted=""
trap '[ -n "$mounted" ] && umount "$mounted" 2>/dev/null; rm -rf "$tmp"' EXIT
T0=$SECONDS

# sweep_ini (lib.sh): the 5-run sweep of llama-gqa.
NRUNS=5

# Compares results file FILE with the uninterrupted run REF: every run in FILE is complete,
# listed once in /summary, and equal to REF's (key, ppl, nll_per_window, every dataset under
# layers/). Prints the number of runs; with "all", FILE must hold every run of REF.
cat >"$tmp/check.py" <<'EOF'
import sys, h5py, numpy as np
path, ref_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def datasets(g, prefix=""):
    out = {}
    for k, v in g.items():
        if isinstance(v, h5py.Group): out.update(datasets(v, prefix + k + "/"))
        else: out[prefix + k] = v[()]
    return out
with h5py.File(path, "r") as f, h5py.File(ref_path, "r") as ref:
    ids = [x.decode() for x in f["summary"]["id"]]
    runs = sorted(f["runs"].keys())
    assert len(ids) == len(set(ids)), f"duplicate summary rows: {ids}"
    assert sorted(ids) == runs, f"summary {sorted(ids)} != runs {runs}"
    for rid in runs:
        r, q = f["runs"][rid], ref["runs"][rid]
        assert r.attrs["status"] == "complete", rid
        for a in ("key", "ppl", "nll", "windows"):
            assert r.attrs[a] == q.attrs[a], (rid, a, r.attrs[a], q.attrs[a])
        assert np.array_equal(r["nll_per_window"][:], q["nll_per_window"][:]), rid
        got, want = datasets(r), datasets(q)
        assert sorted(got) == sorted(want), (rid, set(got) ^ set(want))
        for k in want:
            assert np.array_equal(got[k], want[k]), (rid, k)
    if mode == "all":
        assert runs == sorted(ref["runs"].keys()), f"incomplete: {runs}"
    print(len(runs))
EOF
check() {   # FILE [all] -> number of runs (fails the test on any difference)
  [ "${2:-}" = all ] || h5ls "$1" >/dev/null || fail "h5ls cannot open $1"
  $PY "$tmp/check.py" "$1" "$tmp/ref.h5" "${2:-part}" 2>"$tmp/check.err" ||
    fail "$1: $(tail -1 "$tmp/check.err")"
}
leftovers() {   # RESULTS CACHE -> temporaries left beside the results file or in the caches
  ls -d "$1".tmp.* "$2"/runs/*.tmp.* "$2"/awq/*.tmp.* "$2"/runs/uncached-* 2>/dev/null
}

# The uninterrupted run.
sweep_ini "$tmp/ref.h5" "$tmp/refcache" >"$tmp/ref.ini"
t0=$(date +%s.%N)
"$AH_BIN" run "$tmp/ref.ini" --quiet >"$tmp/ref.out" 2>"$tmp/ref.err" || fail "reference run failed: $(cat "$tmp/ref.err")"
t1=$(date +%s.%N)
grep -q "$NRUNS of $NRUNS runs complete" "$tmp/ref.out" || fail "reference run incomplete"
T_REF=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "uninterrupted run: $NRUNS runs in ${T_REF}s"

# ---- 1. SIGKILL --------------------------------------------------------------------------------
sweep_ini "$tmp/k.h5" "$tmp/kc" >"$tmp/k.ini"
# stage:n. Files written whole from memory (run-mid-write), in order: the new results file,
# the fp16, rtn-w3 and rtn-w4 run files, then per AWQ run its search (AWQ cache) and its run
# file; run-*-rename count the same without the results file; commits: one per run, in plan
# order.
STAGES="run-mid-write:1 commit-mid-copy:1 commit-after-h5ocopy:2 commit-before-rename:3
        run-mid-write:4 commit-after-rename:1 commit-after-copy:4 run-before-rename:5
        commit-after-summary:5 commit-mid-copy:3 run-after-rename:2 commit-after-h5ocopy:5"
N_RANDOM=8
if [ -n "${AH_QUICK:-}" ]; then   # the sanitizer pass: every kind of kill point, fewer of them
  STAGES="run-mid-write:4 commit-mid-copy:2 commit-after-copy:3 commit-after-h5ocopy:3
          commit-after-summary:2 commit-before-rename:5 commit-after-rename:1 run-before-rename:2
          run-after-rename:3"
  N_RANDOM=3
fi
kills=0
resume() {   # finishes the sweep after a kill; checks it and the absence of temporaries
  "$AH_BIN" run "$tmp/k.ini" --quiet >"$tmp/resume.out" 2>"$tmp/resume.err" ||
    fail "resume after kill $kills failed: $(tail -3 "$tmp/resume.err")"
  [ "$(check "$tmp/k.h5" all)" -eq $NRUNS ] || fail "resume after kill $kills: not all runs"
  local left
  left=$(leftovers "$tmp/k.h5" "$tmp/kc")
  [ -z "$left" ] || fail "after kill $kills and a resume, temporaries remain: $left"
}
for spec in $STAGES; do
  rm -rf "$tmp/k.h5" "$tmp/k.h5".* "$tmp/kc"
  AH_TEST_KILL_AT=$spec "$AH_BIN" run "$tmp/k.ini" --quiet >/dev/null 2>"$tmp/kill.err" &
  wait $! 2>/dev/null   # (no "Killed" notice from bash)
  rc=$?
  [ $rc -eq 137 ] || fail "AH_TEST_KILL_AT=$spec: exit $rc, expected 137 (killed): $(tail -2 "$tmp/kill.err")"
  kills=$((kills + 1))
  n=0
  [ -e "$tmp/k.h5" ] && n=$(check "$tmp/k.h5")
  stage=${spec%:*} nth=${spec#*:}
  case $stage in   # runs the kill must have left committed
    commit-after-rename) want=$nth ;;
    commit-*) want=$((nth - 1)) ;;
    *) want="" ;;
  esac
  tmpfile=$(leftovers "$tmp/k.h5" "$tmp/kc" | head -1)
  [ -z "$want" ] || [ "$n" -eq "$want" ] || fail "$spec: $n runs committed, expected $want"
  case $stage in commit-after-rename|run-after-rename) ;;
    *) [ -n "$tmpfile" ] || fail "$spec: no temporary file left behind (the kill point was not inside a write)";;
  esac
  resume
  echo "kill $kills at $spec: $n runs committed${tmpfile:+, left $(basename "$tmpfile" | sed 's/[0-9a-f]\{64\}/<key>/')}; resumed to $NRUNS"
done
# Random moments; every other one lands in the resume of the previous kill (no clean start).
for i in $(seq 1 $N_RANDOM); do
  [ $((i % 2)) -eq 1 ] && rm -rf "$tmp/k.h5" "$tmp/k.h5".* "$tmp/kc"
  delay=$(awk -v s="$RANDOM" -v t="$T_REF" 'BEGIN { srand(s); printf "%.2f", 0.02 + rand() * t }')
  "$AH_BIN" run "$tmp/k.ini" --quiet >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  kills=$((kills + 1))
  n=0
  [ -e "$tmp/k.h5" ] && n=$(check "$tmp/k.h5")
  if [ $((i % 2)) -eq 1 ] && [ $i -lt $N_RANDOM ]; then
    echo "kill $kills after ${delay}s: $n runs committed; killing the resume next"
  else
    resume
    echo "kill $kills after ${delay}s: $n runs committed; resumed to $NRUNS"
  fi
done
T_KILLS=$((SECONDS - T0))

# ---- 2. temporaries of live processes stay ------------------------------------------------------
sh -c 'exit 0' & dead=$!
wait $dead
kill -0 $dead 2>/dev/null && fail "pid $dead should be gone"
touch "$tmp/kc/runs/live.h5.tmp.$$" "$tmp/kc/awq/dead.h5.tmp.$dead" "$tmp/kc/runs/uncached-$dead-x.h5"
"$AH_BIN" run "$tmp/k.ini" --quiet >/dev/null 2>&1 || fail "rerun with planted temporaries failed"
[ -e "$tmp/kc/runs/live.h5.tmp.$$" ] || fail "a live process's temporary was removed"
[ ! -e "$tmp/kc/awq/dead.h5.tmp.$dead" ] && [ ! -e "$tmp/kc/runs/uncached-$dead-x.h5" ] ||
  fail "a dead process's temporaries were kept"
rm -f "$tmp/kc/runs/live.h5.tmp.$$"

# ---- 3. full disk -------------------------------------------------------------------------------
hdf5_noise() { grep -l "HDF5-DIAG\|#0[0-9]*: " "$1" >/dev/null; }
# A file-size limit as large as the finished results file: the last commits cannot fit.
lim_kb=$(( $(stat -c %s "$tmp/ref.h5") / 1024 + 1 ))
sweep_ini "$tmp/f.h5" "$tmp/fc" >"$tmp/f.ini"
(ulimit -f "$lim_kb"; exec "$AH_BIN" run "$tmp/f.ini" --quiet >"$tmp/f.out" 2>"$tmp/f.err")
rc=$?
[ $rc -eq 1 ] || fail "ulimit -f $lim_kb: exit $rc, expected 1: $(tail -3 "$tmp/f.err")"
hdf5_noise "$tmp/f.err" && fail "ulimit -f: HDF5 printed its error stack: $(head -3 "$tmp/f.err")"
[ "$(wc -l <"$tmp/f.err")" -eq 1 ] || fail "ulimit -f: expected one line of error: $(cat "$tmp/f.err")"
grep -q "^awq-harness: $tmp/f.h5: write failed: File too large" "$tmp/f.err" ||
  fail "ulimit -f: unclear message: $(cat "$tmp/f.err")"
n=$(check "$tmp/f.h5")
[ "$n" -ge 1 ] && [ "$n" -lt $NRUNS ] || fail "ulimit -f $lim_kb: $n runs committed, expected some but not all"
[ -z "$(ls -d "$tmp"/f.h5.tmp.* 2>/dev/null)" ] || fail "ulimit -f: the failed commit left its temporary"
"$AH_BIN" run "$tmp/f.ini" --quiet >/dev/null 2>&1 || fail "resume after the file-size limit failed"
check "$tmp/f.h5" all >/dev/null
echo "ulimit -f ${lim_kb}k: stopped after $n runs with: $(cut -c1-90 "$tmp/f.err")...; resumed to $NRUNS"

# The run cache cannot be written (runs/ is a file): every run fails, each says why.
mkdir -p "$tmp/gc" && : >"$tmp/gc/runs"
sweep_ini "$tmp/g.h5" "$tmp/gc" >"$tmp/g.ini"
"$AH_BIN" run "$tmp/g.ini" --quiet >/dev/null 2>"$tmp/g.err" && fail "a sweep with an unwritable run cache succeeded"
hdf5_noise "$tmp/g.err" && fail "run cache: HDF5 printed its error stack"
[ "$(grep -c "^run .* failed: $tmp/gc/runs/.*Not a directory" "$tmp/g.err")" -eq $NRUNS ] ||
  fail "run cache: expected one clear line per run: $(head -3 "$tmp/g.err")"
grep -q "$NRUNS of $NRUNS runs failed" "$tmp/g.err" || fail "run cache: no summary line"
# The AWQ cache cannot be written: a warning per search; the runs are recorded all the same.
mkdir -p "$tmp/hc" && : >"$tmp/hc/awq"
sweep_ini "$tmp/h.h5" "$tmp/hc" >"$tmp/h.ini"
"$AH_BIN" run "$tmp/h.ini" --quiet >/dev/null 2>"$tmp/h.err" || fail "an unwritable AWQ cache failed the sweep: $(cat "$tmp/h.err")"
[ "$(grep -c "^warning: awq-.*AWQ search not cached: .*Not a directory" "$tmp/h.err")" -eq 2 ] ||
  fail "AWQ cache: expected a warning per search: $(cat "$tmp/h.err")"
check "$tmp/h.h5" all >/dev/null

# A real full disk: a small tmpfs holding the results file and the caches (needs mount rights).
mkdir "$tmp/full"
size_kb=$(( 2 * $(stat -c %s "$tmp/ref.h5") / 1024 ))
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=${size_kb}k tmpfs "$tmp/full" 2>/dev/null; then
  mounted="$tmp/full"
  sweep_ini "$tmp/full/t.h5" "$tmp/full/c" >"$tmp/t.ini"
  "$AH_BIN" run "$tmp/t.ini" --quiet >/dev/null 2>"$tmp/t.err"
  rc=$?
  [ $rc -eq 1 ] || fail "full tmpfs: exit $rc, expected 1: $(tail -3 "$tmp/t.err")"
  hdf5_noise "$tmp/t.err" && fail "full tmpfs: HDF5 printed its error stack"
  grep -q "write failed: No space left on device" "$tmp/t.err" || fail "full tmpfs: unclear message: $(cat "$tmp/t.err")"
  n=$(check "$tmp/full/t.h5")
  echo "tmpfs of ${size_kb}k: $n runs committed, then: $(tail -1 "$tmp/t.err" | cut -c1-90)..."
  umount "$tmp/full" && mounted=""
else
  echo "tmpfs part not run: mounting needs root (the ulimit -f part covers the same paths)"
fi
echo "crash safety: $kills kills in ${T_KILLS}s, all checks passed in $((SECONDS - T0))s"
