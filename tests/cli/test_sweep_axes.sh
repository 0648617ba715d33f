#!/usr/bin/env bash
# test_sweep_axes.sh — the calibration axes of a sweep (issue 19) on the llama-gqa fixture:
#  1. seed x calib_samples crosses only the methods the calibration sample changes (awq),
#     with ids that name the swept axes and nothing else; fp16 and rtn are planned once;
#  2. the runs record every axis in /summary (h5py), one calibration sample per (seed, size):
#     runs sharing one share calib_sha256 and their AWQ search (the second sweep into a new
#     file does no work), runs of different seeds or sizes do not;
#  3. `report` averages the seed replicates: mean +- sd (n=3), computed here from /summary
#     with numpy; no best is marked where the intervals overlap;
#  4. a bad axis value is one error naming the file and line.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py, numpy" 2>/dev/null || fail "python3-h5py and numpy are needed (make deps installs them)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

{ fixture_experiment axes "$tmp/a.h5" "$tmp/cache" 8; cat <<EOF
max_windows = 4
[experiment]
threads = 1
[sweep]
method = fp16, rtn, awq
bits = 3
group_size = 32
grid = 5
seed = 0, 1, 2
calib_samples = 4, 8
EOF
} >"$tmp/axes.ini"

# 1. the plan
plan=$("$AH_BIN" run "$tmp/axes.ini" --dry-run 2>&1) || fail "--dry-run failed: $plan"
ids=$(awk '/^ *[0-9]+  / {print $2}' <<<"$plan" | sort | tr '\n' ' ')
want="awq-w3-g32-search5-n4-seed0 awq-w3-g32-search5-n4-seed1 awq-w3-g32-search5-n4-seed2 \
awq-w3-g32-search5-n8-seed0 awq-w3-g32-search5-n8-seed1 awq-w3-g32-search5-n8-seed2 fp16 rtn-w3-g32 "
[ "$ids" = "$want" ] || fail "planned ids: got '$ids', want '$want'"

# 2. the runs and their records
"$AH_BIN" run "$tmp/axes.ini" >"$tmp/out1" 2>&1 || fail "run failed: $(tail -5 "$tmp/out1")"
grep -q "calibration: .* 6 samples" "$tmp/out1" || fail "expected 6 calibration samples (3 seeds x 2 sizes): $(grep calibration "$tmp/out1")"
$PY - "$tmp/a.h5" <<'EOF' || fail "records of the calibration axes (above)"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = {r["id"].decode(): r for r in f["summary"][:]}
runs = f["runs"]
hashes = {}
for rid, r in rows.items():
    a = runs[rid].attrs
    if rid.startswith("awq"):
        n, seed = int(rid.split("-n")[1].split("-")[0]), int(rid.split("seed")[1])
        assert (r["seed"], r["calib_samples"], r["calib_seqlen"]) == (seed, n, 64), (rid, r)
        hashes.setdefault(a["calib_sha256"], []).append(rid)
    else:   # fp16 and rtn take no calibration sample: no seed, no size
        assert r["seed"] < -2**62 and r["calib_samples"] < -2**62, (rid, "should have none")
# six different samples, one run each
assert len(hashes) == 6 and all(len(v) == 1 for v in hashes.values()), hashes
EOF
# the same sweep into a new results file: every run from the run cache
sed "s|$tmp/a.h5|$tmp/b.h5|" "$tmp/axes.ini" >"$tmp/b.ini"
"$AH_BIN" run "$tmp/b.ini" >"$tmp/out2" 2>&1 || fail "second run failed: $(tail -5 "$tmp/out2")"
[ "$(grep -c 'from the run cache' "$tmp/out2")" -eq 8 ] || fail "the second sweep recomputed runs: $(cat "$tmp/out2")"

# 3. report: mean +- sd over the seeds
rep=$("$AH_BIN" report "$tmp/a.h5" 2>&1) || fail "report failed: $rep"
exp=$($PY - "$tmp/a.h5" <<'EOF'
import sys, h5py, numpy as np
s = f = h5py.File(sys.argv[1], "r")["summary"][:]
for n in (4, 8):
    v = np.array([r["ppl"] for r in s if r["calib_samples"] == n])
    assert len(v) == 3
    print(f"AWQ calib_samples={n} | {v.mean():.2f} ± {v.std(ddof=1):.2f} (n=3)")
EOF
) || fail "numpy: $exp"
while read -r line; do
  label=${line%% |*}; cell=${line#*| }
  got=$(grep -F "| $label " <<<"$rep" | awk -F'|' '{gsub(/^ +| +$/, "", $3); print $3}')
  [ "$got" = "$cell" ] || fail "report row '$label': got '$got', want '$cell' (numpy); report:
$rep"
done <<<"$exp"
grep -q "mean ± sd (n = replicates)" <<<"$rep" || fail "the caption does not say the cells average seeds: $rep"
# 0.95 t intervals of 3 seeds of 4 windows overlap here: nothing is bold
! grep -q '\*\*' <<<"$rep" || fail "a best was marked although the replicate intervals overlap: $rep"

# 4. a bad axis value
printf '[sweep]\nseed = 0, x\n' >>"$tmp/axes.ini"
expect_error "bad seed" "axes.ini:[0-9]+: .*seed" -- "$AH_BIN" run "$tmp/axes.ini" --dry-run
[ "${errors:-0}" -eq 0 ] || fail "$errors error checks failed"
echo "seed x calib_samples: 8 runs planned and recorded, 6 calibration samples, report mean +- sd"
