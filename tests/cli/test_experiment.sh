#!/usr/bin/env bash
# test_experiment.sh — `awq-harness run` end to end on the committed llama-gqa fixture:
#  1. --dry-run lists the plan; a run writes one complete record per planned run;
#  2. caches: the same sweep into a new results file does no quantization or evaluation work
#     (every run from the run cache) in a small fraction of the first run's time; rerunning
#     into the same file resumes (nothing to do); an AWQ run that reuses a cached search gives
#     exactly the perplexity of the same run computed with no cache;
#  3. h5py reads every documented field of a record (results/README.md), h5dump/h5ls open it;
#  4. SIGKILL at a random moment, 5 times: the file opens, holds only complete runs, no
#     duplicates; resuming completes the sweep with results equal to an uninterrupted run;
#  5. SIGINT: exit 130, completed runs kept, the message says how to resume;
#  6. --shard 0/2 + 1/2 merged equals the unsharded run; a conflicting merge is refused.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
command -v h5ls >/dev/null || fail "h5ls is needed (hdf5-tools; make deps installs it)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ROOT=$(pwd)

# A sweep of 9 runs (small enough for the sanitizer build): fp16, rtn and minmax at 3 bits,
# each with 1% salient channels kept too (a modifier of every method), awq searched and at a
# fixed alpha, each with and without 1% kept (the kept-channel runs reuse the search).
cat >"$tmp/sweep.ini" <<EOF
[experiment]
name = fixture-sweep
output = $tmp/a.h5
cache = $tmp/cache
seed = 3
[model]
path = $ROOT/tests/fixtures/llama-gqa
[calibration]
data = text:$ROOT/tests/fixtures/text/calib.txt
samples = 8
seqlen = 64
[evaluation]
data = text:$ROOT/tests/fixtures/text/eval.txt
seqlen = 64
[sweep]
method = fp16, rtn, minmax, awq
bits = 3
group_size = 32
grid = 10
salient_pct = 0, 1
salient_by = activation
alpha = search, 0.5
EOF

# 1. plan and first run
"$AH_BIN" run "$tmp/sweep.ini" --dry-run >"$tmp/plan" || fail "dry run failed"
grep -q "9 planned runs" "$tmp/plan" || fail "expected 9 planned runs: $(head -1 "$tmp/plan")"
grep -q "rtn-w3-g32-keep1-act" "$tmp/plan" || fail "plan lacks the kept-channel RTN run"
grep -q "awq-w3-g32-search10-keep1-act" "$tmp/plan" || fail "plan lacks the kept-channel AWQ run"
[ ! -e "$tmp/a.h5" ] || fail "--dry-run wrote a results file"
t0=$(date +%s.%N)
"$AH_BIN" run "$tmp/sweep.ini" --quiet >"$tmp/first.out" 2>"$tmp/first.err" || fail "run failed: $(cat "$tmp/first.err")"
t1=$(date +%s.%N)
grep -q "9 of 9 runs complete" "$tmp/first.out" || fail "first run incomplete: $(tail -3 "$tmp/first.out")"

summary() {   # FILE -> "id ppl" lines (full precision), sorted
  $PY - "$1" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    for row in f["summary"][:]:
        print(row["id"].decode(), repr(float(row["ppl"])))
EOF
}
summary "$tmp/a.h5" >"$tmp/a.sum"
[ "$(wc -l <"$tmp/a.sum")" -eq 9 ] || fail "summary has $(wc -l <"$tmp/a.sum") rows, expected 9"

# 2. caches
t2=$(date +%s.%N)
"$AH_BIN" run "$tmp/sweep.ini" --quiet --output "$tmp/b.h5" >"$tmp/second.out" || fail "cached run failed"
t3=$(date +%s.%N)
n_cached=$(grep -c "from the run cache" "$tmp/second.out")
[ "$n_cached" -eq 9 ] || fail "second run: $n_cached of 9 runs from the run cache"
summary "$tmp/b.h5" >"$tmp/b.sum"
cmp -s "$tmp/a.sum" "$tmp/b.sum" || fail "cached results differ from computed ones"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { first = b - a; second = d - c;
  printf "first run %.2f s, cached rerun %.2f s\n", first, second; exit !(second < first / 4) }' ||
  fail "the cached rerun was not a small fraction of the first run's time"
"$AH_BIN" run "$tmp/sweep.ini" --quiet >"$tmp/third.out" || fail "resume failed"
[ "$(grep -c "already in the results file" "$tmp/third.out")" -eq 9 ] || fail "resume recomputed runs"
grep -q "awq-w3-g32-search10-keep1-act .*AWQ search from the cache" "$tmp/first.out" ||
  fail "the kept-channel AWQ run did not reuse the search"
"$AH_BIN" run "$tmp/sweep.ini" --quiet --no-cache --output "$tmp/nc.h5" >/dev/null || fail "--no-cache run failed"
summary "$tmp/nc.h5" >"$tmp/nc.sum"
cmp -s "$tmp/a.sum" "$tmp/nc.sum" || { diff "$tmp/a.sum" "$tmp/nc.sum"; fail "results with an AWQ search from the cache differ from fresh ones"; }

# 3. every documented field, through h5py; h5ls and h5dump open the file
h5ls -r "$tmp/a.h5" >/dev/null || fail "h5ls cannot read the results file"
h5dump -H "$tmp/a.h5" >/dev/null || fail "h5dump cannot read the results file"
$PY - "$tmp/a.h5" <<'EOF' || fail "a documented field is missing (see above)"
import sys, math, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def need(obj, names, what):
    missing = [n for n in names if n not in obj]
    if missing: sys.exit(f"{what}: missing {missing}")
need(f.attrs, ["schema_version", "harness_version", "git_commit", "created", "experiment", "experiment_ini"], "root attrs")
common = ["experiment", "run_index", "key", "status", "created", "git_commit", "harness_version", "model",
          "model_name", "model_sha256", "arch", "method", "eval_data", "eval_sha256", "eval_tokens",
          "seqlen", "protocol", "max_windows", "windows", "threads", "blas_core", "seconds", "eval_seconds", "cache", "ppl", "nll"]
quant = ["bits", "group_size", "zero_point", "quantizer", "weight_mse", "output_mse", "calib", "calib_sha256",
         "calib_pick"]
# the calibration sample's parameters: only runs whose weights it changes (results/README.md)
drawn = ["seed", "calib_samples", "calib_seqlen"]
awq = ["scale_rule", "clip", "propagate", "alpha_mode", "awq_samples", "awq_seconds", "salient_pct"]
runs = f["runs"]
for rid, r in runs.items():
    need(r.attrs, common, rid)
    assert r.attrs["status"] == "complete", rid
    ppl = r["ppl"][()]
    nll = r["nll_per_window"][:]
    assert abs(ppl - r.attrs["ppl"]) == 0, rid
    assert len(nll) == r.attrs["windows"], rid
    assert abs(math.exp(nll.mean()) - ppl) < 1e-9 * ppl, (rid, math.exp(nll.mean()), ppl)
    if r.attrs["method"] == "fp16":
        assert "layers" not in r, rid
        continue
    need(r.attrs, quant, rid)
    if r.attrs["method"] == "awq" or r.attrs.get("salient_by", "") == "activation":
        need(r.attrs, drawn, rid)
    else:
        assert not any(n in r.attrs for n in drawn), (rid, "takes no calibration sample")
    layers = r["layers"]
    assert sorted(layers.keys(), key=int) == ["0", "1"], rid
    for l in layers.values():
        for name, lin in l.items():
            need(lin.attrs, ["rows", "cols", "weight_mse", "output_mse", "kept", "input"], f"{rid}/{name}")
            # activation statistics: recorded by the runs that use them (AWQ, salient by activation)
            if r.attrs["method"] == "awq" or r.attrs.get("salient_by", "") == "activation":
                need(lin, ["act_mean", "act_max"], f"{rid}/{name}")
                assert lin["act_mean"].shape == (lin.attrs["cols"],)
                assert np.all(lin["act_max"][:] >= lin["act_mean"][:])
            else:
                # output-error metrics only (the first ceil(512 / 64) = 8 sequences)
                assert "act_mean" not in lin, rid
            if lin.attrs["kept"] > 0:
                idx = lin["salient_idx"][:]
                assert len(idx) == lin.attrs["kept"] and np.all(np.diff(idx) > 0), f"{rid}/{name}"
            # GQA: v -> o has no scaling group (v and o widths differ), so o_proj has no scales
            if r.attrs["method"] == "awq" and name != "o_proj":
                need(lin, ["scales"], f"{rid}/{name}")
                need(lin.attrs, ["alpha", "scale_group"], f"{rid}/{name}")
                assert np.all(lin["scales"][:] > 0)
                if r.attrs["alpha_mode"] == "search":
                    need(lin, ["alphas", "loss_vs_alpha"], f"{rid}/{name}")
                    assert lin.attrs["alpha"] in lin["alphas"][:]
            if r.attrs["method"] == "awq" and r.attrs["clip"] == "on" and name not in ("q_proj", "k_proj"):
                need(lin, ["clip"], f"{rid}/{name}")
                assert lin["clip"].shape == (lin.attrs["rows"], -(-lin.attrs["cols"] // 32))
    if r.attrs["method"] == "awq":
        need(r.attrs, awq, rid)
s = f["summary"][:]
assert len(s) == len(runs) and sorted(x.decode() for x in s["id"]) == sorted(runs.keys())
for col in ["method", "bits", "group_size", "scale_rule", "alpha", "clip", "propagate", "salient_pct",
            "salient_by", "salient_scale", "scale_pct", "calib", "eval_data", "seqlen", "ppl", "nll",
            "windows", "seconds", "awq_seconds", "cache", "key", "alpha_mode", "grid", "model_name",
            "calib_samples", "calib_seqlen", "calib_pick", "awq_samples", "seed", "max_windows",
            "protocol", "damp", "block_size", "act_order"]:
    assert col in s.dtype.names, col
fixed = [x for x in s if x["id"].decode() == "awq-w3-g32-a0.5"][0]
searched = [x for x in s if x["id"].decode() == "awq-w3-g32-search10"]
assert len(searched) == 1
assert fixed["alpha"] == 0.5 and fixed["method"].decode() == "awq"
# /summary tells a searched alpha from a fixed one (both have scale_rule = search)
assert fixed["alpha_mode"].decode() == "fixed" and searched[0]["alpha_mode"].decode() == "search"
assert searched[0]["grid"] == 10 and math.isnan(searched[0]["alpha"])
for x in s:   # every run's parameters, as its record holds them
    a = runs[x["id"].decode()].attrs
    for col in ["model_name", "seed", "max_windows", "protocol", "calib_samples", "awq_samples"]:
        if col in a:
            want = a[col].decode() if isinstance(a[col], bytes) else a[col]
            got = x[col].decode() if isinstance(x[col], bytes) else x[col]
            assert got == want, (x["id"], col, got, want)
print("fields ok:", len(runs), "runs")
EOF

# 4. SIGKILL at random moments; resume each time
cp "$tmp/sweep.ini" "$tmp/kill.ini"
sed -i "s|^output = .*|output = $tmp/k.h5|; s|^cache = .*|cache = $tmp/kcache|" "$tmp/kill.ini"
check_partial() {   # the file opens, holds only complete runs, each once, with the right ppl
  [ -e "$tmp/k.h5" ] || return 0
  h5ls "$tmp/k.h5" >/dev/null || fail "after SIGKILL the results file does not open"
  $PY - "$tmp/k.h5" "$tmp/a.sum" <<'EOF' || fail "after SIGKILL: bad partial file"
import sys, h5py
want = dict(l.split() for l in open(sys.argv[2]))
with h5py.File(sys.argv[1], "r") as f:
    ids = [x.decode() for x in f["summary"]["id"]]
    assert len(ids) == len(set(ids)) == len(f["runs"]), "duplicate or unsummarised run"
    for rid in ids:
        r = f["runs"][rid]
        assert r.attrs["status"] == "complete", rid
        assert repr(float(r.attrs["ppl"])) == want[rid], (rid, r.attrs["ppl"], want[rid])
EOF
}
for i in 1 2 3 4 5; do
  rm -rf "$tmp/k.h5" "$tmp/kcache"
  # anywhere from start-up to the end of an uninterrupted run
  delay=$(awk -v s="$RANDOM" -v a="$t0" -v b="$t1" 'BEGIN { srand(s); printf "%.2f", 0.05 + rand() * (b - a) }')
  "$AH_BIN" run "$tmp/kill.ini" --quiet >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  before=0
  [ -e "$tmp/k.h5" ] && before=$($PY -c "import h5py,sys; print(len(h5py.File(sys.argv[1],'r')['runs']))" "$tmp/k.h5")
  check_partial
  "$AH_BIN" run "$tmp/kill.ini" --quiet >"$tmp/resume.out" 2>&1 || fail "resume after SIGKILL failed: $(tail -3 "$tmp/resume.out")"
  summary "$tmp/k.h5" >"$tmp/k.sum"
  cmp -s "$tmp/a.sum" "$tmp/k.sum" || { diff "$tmp/a.sum" "$tmp/k.sum"; fail "resumed results differ"; }
  echo "SIGKILL after ${delay}s: $before runs committed, resumed to 9"
done

# 5. SIGINT: the current run is abandoned at the next block, completed runs stay
rm -rf "$tmp/k.h5" "$tmp/kcache"
"$AH_BIN" run "$tmp/kill.ini" >"$tmp/int.out" 2>"$tmp/int.err" &
pid=$!
sleep 1.0
kill -INT "$pid"
wait "$pid"; rc=$?
if [ $rc -ne 0 ]; then   # finished before the signal on a fast machine otherwise
  [ $rc -eq 130 ] || fail "SIGINT: exit $rc, expected 130: $(tail -3 "$tmp/int.err")"
  grep -q "run the same command again to resume" "$tmp/int.err" || fail "SIGINT: no resume hint"
  check_partial
fi

# 6. shards and merge
for s in 0 1; do
  "$AH_BIN" run "$tmp/sweep.ini" --quiet --no-cache --shard "$s/2" --output "$tmp/shard$s.h5" >/dev/null ||
    fail "shard $s failed"
done
"$AH_BIN" merge "$tmp/merged.h5" "$tmp/shard0.h5" "$tmp/shard1.h5" >/dev/null || fail "merge failed"
summary "$tmp/merged.h5" >"$tmp/m.sum"
cmp -s "$tmp/a.sum" "$tmp/m.sum" || { diff "$tmp/a.sum" "$tmp/m.sum"; fail "shard+merge differs from one run"; }
$PY - "$tmp/merged.h5" "$tmp/a.h5" <<'EOF' || fail "merged records differ"
import sys, h5py, numpy as np
m, a = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert sorted(m["runs"]) == sorted(a["runs"])
for rid in a["runs"]:
    assert m["runs"][rid].attrs["key"] == a["runs"][rid].attrs["key"], rid
    assert np.array_equal(m["runs"][rid]["nll_per_window"][:], a["runs"][rid]["nll_per_window"][:]), rid
EOF
# A merge where the same run id has different keys is refused and writes nothing.
sed "s/^seed = 3/seed = 4/" "$tmp/sweep.ini" >"$tmp/other.ini"
"$AH_BIN" run "$tmp/other.ini" --quiet --no-cache --shard 0/5 --output "$tmp/other.h5" >/dev/null || fail "other run failed"
if "$AH_BIN" merge "$tmp/bad.h5" "$tmp/a.h5" "$tmp/other.h5" 2>"$tmp/merge.err"; then
  fail "a conflicting merge succeeded"
fi
grep -q "other.h5" "$tmp/merge.err" || fail "merge conflict message does not name the file: $(cat "$tmp/merge.err")"
[ ! -e "$tmp/bad.h5" ] || fail "a refused merge left an output file"
echo "experiment driver: all checks passed"
