#!/usr/bin/env bash
# test_method_table.sh — every row of the method table (harness/method/table.c) reaches every
# place that lists methods: one sweep over all nine methods on the llama-gqa fixture plans them
# (run), records them (`method` attribute and /summary), `report` gives each its own row label
# and `plot ppl_vs_bits` draws each in its own colour; the CLI's messages list the methods a
# parameter applies to from the table. The method count is read from `--method`'s error, so a
# new row is covered without editing this test.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
command -v gnuplot >/dev/null || skip "gnuplot not installed (make deps installs gnuplot-nox)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
tmp=$(mktemp -d) && [ -d "$tmp" ] || fail "mktemp failed"; trap 'rm -rf "$tmp"' EXIT
ROOT=$(pwd)
errors=0
err() { echo "FAIL: $*"; errors=$((errors + 1)); }

# the table's method names, from the CLI's own list
list=$("$AH_BIN" eval --model x --data x --method no-such 2>&1 | sed -n 's/.*unknown value .no-such. (expected \(.*\))$/\1/p')
[ -n "$list" ] || fail "--method's error does not list the methods"
IFS=', ' read -r -a methods <<<"$list"
[ "${#methods[@]}" -ge 9 ] || fail "only ${#methods[@]} methods listed: $list"
for m in "${methods[@]}"; do [ "$m" = salient ] || sweep="${sweep:+$sweep, }$m"; done

{ fixture_experiment method-table "$tmp/r.h5" "$tmp/cache"; cat <<EOF
max_windows = 4
[sweep]
bits = 3, 4
group_size = 32
alpha = 0.5, 1
grid = 4
[sweep.all]
method = $sweep
[sweep.kept]
method = salient
salient_pct = 5
[sweep.kept_any]
method = rtn, gptq
salient_pct = 5
salient_by = weight
EOF
} >"$tmp/all.ini"
"$AH_BIN" run "$tmp/all.ini" --quiet >"$tmp/run.out" 2>"$tmp/run.err" || fail "run failed: $(tail -n 3 "$tmp/run.err")"

# records and /summary: every method, with its own name
got=$($PY - "$tmp/r.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
def s(v): return v.decode() if isinstance(v, bytes) else v
rec = sorted({s(f["runs"][r].attrs["method"]) for r in f["runs"]})
summ = sorted({x.decode() for x in f["summary"]["method"]})
assert rec == summ, (rec, summ)
print(" ".join(rec))
PY
) || fail "records and /summary disagree"
for m in "${methods[@]}"; do [[ " $got " == *" $m "* ]] || err "no $m run recorded (recorded: $got)"; done

# kept channels are a modifier of any method: gptq and rtn keep their names, record the kept
# columns, and differ from the same method without them
$PY - "$tmp/r.h5" <<'PY' || err "kept channels on rtn / gptq"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
def s(v): return v.decode() if isinstance(v, bytes) else v
for m in ("rtn", "gptq"):
    k, p = f["runs"][m + "-w3-g32-keep5-wei"], f["runs"][m + "-w3-g32"]
    assert s(k.attrs["method"]) == m and k.attrs["salient_pct"] == 5, dict(k.attrs)
    assert s(k.attrs["salient_by"]) == "weight"
    assert k["layers/0/q_proj"].attrs["kept"] > 0 and p["layers/0/q_proj"].attrs["kept"] == 0
    assert k.attrs["weight_mse"] < p.attrs["weight_mse"], (m, k.attrs["weight_mse"], p.attrs["weight_mse"])
PY

# report: each method has its own row label (the table's)
"$AH_BIN" report "$tmp/r.h5" >"$tmp/report.md" 2>"$tmp/report.err" || err "report failed: $(cat "$tmp/report.err")"
labels=$(sed -n 's/^| \([^|]*[^ |]\) *|.*/\1/p' "$tmp/report.md" | grep -v '^Method$' | sort -u)
n_labels=$(printf '%s\n' "$labels" | grep -c .)
[ "$n_labels" -ge "${#methods[@]}" ] || err "report has $n_labels row labels for ${#methods[@]} methods: $labels"
for want in imatrix GPTQ "AWQ + GPTQ" "RTN (GPTQ)" "GPTQ + 5% FP16"; do
  grep -q "^| $want" "$tmp/report.md" || err "report lacks the row '$want'"
done

# plot: ppl_vs_bits draws each method in its own colour (a gnuplot in front of the real one
# keeps the script it was sent)
mkdir -p "$tmp/bin"
real=$(command -v gnuplot)
printf '#!/bin/sh\ntee -a "%s/script.gp" | "%s" "$@"\n' "$tmp" "$real" >"$tmp/bin/gnuplot"
chmod +x "$tmp/bin/gnuplot"
PATH="$tmp/bin:$PATH" "$AH_BIN" plot "$tmp/r.h5" --only ppl_vs_bits --out "$tmp/plots" >"$tmp/plot.out" 2>&1 ||
  err "plot failed: $(cat "$tmp/plot.out")"
colours=$(grep -o '#[0-9a-fA-F]\{6\}' "$tmp/script.gp" 2>/dev/null | sort -u | wc -l)
[ "$colours" -ge "${#methods[@]}" ] || err "ppl_vs_bits uses $colours colours for ${#methods[@]} methods"

# ppl_vs_alpha draws every AWQ-family method (awq and awq+gptq at alpha 0.5 and 1)
: >"$tmp/script.gp"
PATH="$tmp/bin:$PATH" "$AH_BIN" plot "$tmp/r.h5" --only ppl_vs_alpha --out "$tmp/plots" >"$tmp/plot.out" 2>&1 ||
  err "plot ppl_vs_alpha failed: $(cat "$tmp/plot.out")"
grep -q "awq+gptq" "$tmp/script.gp" || err "ppl_vs_alpha has no awq+gptq series"

# the CLI names, from the table, the methods a parameter applies to
msg=$("$AH_BIN" eval --model x --data x --method imatrix --alpha 0.5 2>&1)
[ "$msg" = "awq-harness: --alpha applies to --method awq, awq+gptq only" ] || err "--alpha message: $msg"
msg=$("$AH_BIN" eval --model x --data x --method rtn --damp 0.1 2>&1)
[ "$msg" = "awq-harness: --damp applies to --method gptq, awq+gptq only" ] || err "--damp message: $msg"

[ $errors -eq 0 ] || fail "$errors problems"
echo "${#methods[@]} methods: planned, recorded, $n_labels report labels, $colours plot colours"
