#!/usr/bin/env bash
# test_sweep_axes.sh — the calibration axes of a sweep (issue 19) on the llama-gqa fixture:
#  1. seed x calib_samples crosses only the methods the calibration sample changes (awq),
#     with ids that name the swept axes and nothing else; fp16 and rtn are planned once;
#  2. the runs record every axis in /summary (h5py), one calibration sample per (seed, size):
#     runs sharing one share calib_sha256 and their AWQ search (the second sweep into a new
#     file does no work), runs of different seeds or sizes do not;
#  3. `report` averages the seed replicates: mean +- sd (n=3), computed here from /summary
#     with numpy; no best is marked where the intervals overlap;
#  4. a bad axis value is one error naming the file and line;
#  5. the acceptance sweep of issue 19: 3 seeds x 2 calibration sizes x 2 calibration sources x
#     2 models plans 28 runs (one FP baseline per model), records every axis in /summary, draws
#     each calibration sample once, flags the source that overlaps the evaluation text, and
#     `report` shows mean +- sd over the seeds in a column per model;
#  6. report --filter (a bad value is an error) and --format tex (a table environment);
#  7. `plot` draws ppl_vs_calib_samples and ppl_vs_seed from it (when gnuplot is installed).
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

# 5. the acceptance sweep: 3 seeds x 2 calibration sizes x 2 calibration sources x 2 models
R=$(pwd)
cat >"$tmp/acc.ini" <<EOF
[experiment]
name = acceptance
output = $tmp/acc.h5
cache = $tmp/acccache
threads = 1
[model.gqa]
path = $R/tests/fixtures/llama-gqa
[model.mha]
path = $R/tests/fixtures/llama-mha-f16
[calibration]
samples = 8
seqlen = 64
[evaluation]
data = text:$R/tests/fixtures/text/eval.txt
seqlen = 64
max_windows = 4
[sweep]
method = fp16, rtn, awq
bits = 3
group_size = 32
grid = 5
model = gqa, mha
calib = text:$R/tests/fixtures/text/calib.txt, text:$R/tests/fixtures/text/eval.txt@0:3000
seed = 0, 1, 2
calib_samples = 4, 8
EOF
plan=$("$AH_BIN" run "$tmp/acc.ini" --dry-run 2>&1) || fail "acceptance --dry-run failed: $plan"
grep -q "28 planned runs" <<<"$plan" || fail "want 28 runs (2 models x (fp16 + rtn + 2 sources x 2 sizes x 3 seeds)): $plan"
for m in gqa mha; do
  for id in fp16-m.$m rtn-w3-g32-m.$m awq-w3-g32-search5-n4-seed0-m.$m-cal.calib awq-w3-g32-search5-n8-seed2-m.$m-cal.eval; do
    grep -q " $id " <<<"$plan" || fail "no run $id in the plan: $plan"
  done
done
"$AH_BIN" run "$tmp/acc.ini" >"$tmp/acc.out" 2>&1 || fail "acceptance run failed: $(tail -5 "$tmp/acc.out")"
# the second source is a slice of the evaluation text: warned once per sample (2 models x 6)
[ "$(grep -c 'warning: .*eval.txt@0:3000: .* share passages of 32 tokens with the evaluation data' "$tmp/acc.out")" -eq 12 ] ||
  fail "want 12 overlap warnings: $(grep warning "$tmp/acc.out")"
$PY - "$tmp/acc.h5" "$tmp/acccache" <<'EOF' || fail "acceptance records (above)"
import sys, os, h5py
f = h5py.File(sys.argv[1], "r")
s = f["summary"][:]
assert len(s) == 28, len(s)
# one FP baseline per model, recorded with that model and the checkpoint's precision
fp = {r["model_name"].decode(): r["weights_dtype"].decode() for r in s if r["method"] == b"fp16"}
assert fp == {"gqa": "F32", "mha": "F16"}, fp
awq = [r for r in s if r["method"] == b"awq"]
assert len(awq) == 24
samples = {}
for r in awq:
    a = f["runs"][r["id"].decode()].attrs
    src = r["calib"].decode()
    # every axis is a /summary column
    axes = (r["model_name"].decode(), src.split("/")[-1], int(r["seed"]), int(r["calib_samples"]))
    assert axes[3] in (4, 8) and axes[2] in (0, 1, 2) and axes[0] in ("gqa", "mha"), axes
    samples.setdefault(axes, set()).add(a["calib_sha256"])
    assert (r["calib_eval_overlap"] > 0) == src.endswith("@0:3000"), (r["id"], r["calib_eval_overlap"])
assert len(samples) == 24 and all(len(v) == 1 for v in samples.values()), samples
# both models read the same calibration tokens (one tokenizer): 12 distinct samples; the AWQ
# searches differ by model: 24 cache entries
shas = {next(iter(v)) for v in samples.values()}
assert len(shas) == 12, len(shas)
assert len(os.listdir(os.path.join(sys.argv[2], "awq"))) == 24
EOF
rep=$("$AH_BIN" report "$tmp/acc.h5" 2>&1) || fail "acceptance report failed: $rep"
grep -q '^| Method .*INT3 g32 \[gqa\] .*INT3 g32 \[mha\]' <<<"$rep" || fail "want a column per model: $rep"
[ "$(grep -c '(n=3)' <<<"$rep")" -eq 4 ] || fail "want 4 rows of mean ± sd (n=3): $rep"
grep -q '^| FP32/FP16 ' <<<"$rep" || fail "the FP row of an F32 and an F16 model: $rep"
grep -q '† calibrated on text that overlaps' <<<"$rep" || fail "no overlap note: $rep"

# 6. report --filter (values checked as INI values are) and --format tex (a whole table)
rep=$("$AH_BIN" report "$tmp/acc.h5" --filter model_name=gqa --filter calib_samples=8 2>&1) || fail "--filter failed: $rep"
[ "$(grep -c '^|' <<<"$rep")" -eq 5 ] || fail "--filter model_name=gqa calib_samples=8: want header, rule, FP32 and 2 AWQ rows: $rep"
! grep -q 'mha\|RTN' <<<"$rep" || fail "--filter kept other runs: $rep"
expect_error "filter banana" "--filter alpha=banana: expected a number or search, got 'banana'" -- "$AH_BIN" report "$tmp/acc.h5" --filter alpha=banana
expect_error "filter absent" "--filter bits=5: no run has it \(bits: 3\)" -- "$AH_BIN" report "$tmp/acc.h5" --filter bits=5
expect_error "filter column" "'nope' is not a /summary column" -- "$AH_BIN" report "$tmp/acc.h5" --filter nope=1
tex=$("$AH_BIN" report "$tmp/acc.h5" --format tex 2>&1) || fail "tex failed: $tex"
[ "$(head -n 1 <<<"$tex")" = '\begin{table}[t]' ] && [ "$(tail -n 1 <<<"$tex")" = '\end{table}' ] ||
  fail "tex is not one table environment: $tex"
grep -q '^\\caption{acceptance, .*mean \$\\pm\$ sd' <<<"$tex" || fail "tex caption: $tex"
grep -q '^\\label{tab:acceptance-ppl}$' <<<"$tex" || fail "tex label: $tex"
printf '%s\n' "$tex" >"$tmp/t.tex"
$PY - "$tmp/t.tex" <<'EOF' || fail "tex environments or braces unbalanced: $tex"
import re, sys
t = open(sys.argv[1]).read()
assert t.count("{") - t.count("\\{") == t.count("}") - t.count("\\}"), "braces"
envs = re.findall(r"\\(begin|end)\{(\w+)\}", t)
stack = []
for kind, name in envs:
    if kind == "begin": stack.append(name)
    else: assert stack.pop() == name, name
assert not stack and [n for k, n in envs if k == "begin"] == ["table", "tabular"]
EOF

# 7. the figures of the new axes: ppl_vs_calib_samples and ppl_vs_seed are drawn (PNG)
if command -v gnuplot >/dev/null; then
  "$AH_BIN" plot "$tmp/acc.h5" --out "$tmp/plots" >"$tmp/plot.out" 2>&1 || fail "plot failed: $(cat "$tmp/plot.out")"
  for k in ppl_vs_calib_samples ppl_vs_seed; do
    f="$tmp/plots/acceptance/$k.png"
    [ "$(head -c 8 "$f" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$k: no PNG at $f: $(cat "$tmp/plot.out")"
  done
  # plot --ini: a figure declared after the run; a bad key in it is an error naming its line
  printf '[plot.gqa_sizes]\nkind = ppl_vs_calib_samples\nfilter = model_name=gqa\n' >"$tmp/more.ini"
  "$AH_BIN" plot "$tmp/acc.h5" --out "$tmp/plots" --ini "$tmp/more.ini" --only gqa_sizes >"$tmp/plot.out" 2>&1 ||
    fail "plot --ini failed: $(cat "$tmp/plot.out")"
  [ -s "$tmp/plots/acceptance/gqa_sizes.png" ] || fail "plot --ini drew nothing: $(cat "$tmp/plot.out")"
  printf '[plot.x]\nnope = 1\n' >"$tmp/bad.ini"
  expect_error "plot --ini bad key" "bad.ini:2: unknown key 'nope' in \[plot.x\]" -- "$AH_BIN" plot "$tmp/acc.h5" --out "$tmp/plots" --ini "$tmp/bad.ini"
fi

# 4. a bad axis value
printf '[sweep]\nseed = 0, x\n' >>"$tmp/axes.ini"
expect_error "bad seed" "axes.ini:[0-9]+: .*seed" -- "$AH_BIN" run "$tmp/axes.ini" --dry-run
[ "${errors:-0}" -eq 0 ] || fail "$errors error checks failed"
echo "seed x calib_samples: 8 runs, 6 calibration samples; 3 seeds x 2 sizes x 2 sources x 2 models: 28 runs, report mean +- sd per model"
