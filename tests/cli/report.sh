#!/usr/bin/env bash
# report.sh — `awq-harness report` on a small results file made here (stories260K, FP16 / RTN /
# MinMax at INT3 and INT4 g32, a few short windows):
#  1. md, csv and tex: the FP16 reference row, every cell equal to the run's perplexity, the
#     lowest quantized value of a column marked only where it beats the runner-up with 95%
#     confidence (paired bootstrap over the windows, issue 19): MinMax at INT3 (6.8 against
#     RTN's 10.3) is, INT4 (4.81 against 4.82 on 4 windows) is not, and the caption says why;
#     --ci cells, and --compare's paired difference and its errors;
#  2. published numbers, named by the experiment's [experiment] published key and by
#     --published: the paper column, ours minus the paper's, numbers given by labels, a number
#     that matches nothing listed under the table, --no-published;
#  3. --rows / --cols pivots, and errors: bad format, unknown column, malformed published file;
#  4. every experiments/paper/*.published.csv parses.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
[ -f "$SHARED/stories260K/stories260K.bin" ] && [ -f "$SHARED/tinystories/tinystories_val.txt" ] ||
  skip "$SHARED (stories260K, tinystories) not present: set AH_SHARED_DATA"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0
err() { echo "FAIL: $*"; errors=$((errors + 1)); }

cat > "$tmp/pub.csv" <<'EOF'
# published numbers for the test (made up)
run,row,column,value,source,note
rtn-w3-g32,,,7.25,"Test et al., Table 1",
,MinMax,INT4 g32,4.125,"Test et al., Table 2","by labels"
,GPTQ,INT3 g32,5.5,"Test et al., Table 2","matches no run"
EOF
cat > "$tmp/x.ini" <<EOF
[experiment]
name = report-test
output = $tmp/r.h5
published = $tmp/pub.csv
[model]
path = $SHARED/stories260K/stories260K.bin
tokenizer = $SHARED/stories260K/tok512.bin
[evaluation]
data = text:$SHARED/tinystories/tinystories_val.txt@0:30000
seqlen = 128
max_windows = 4
[sweep]
method = fp16, rtn, minmax
bits = 3, 4
group_size = 32
EOF
"$AH_BIN" run --quiet "$tmp/x.ini" > "$tmp/run.out" 2> "$tmp/run.err" || fail "run: $(cat "$tmp/run.err")"
# The perplexity of each run as `run` printed it (4 decimals).
ppl() { awk -v id="$1" '$1 == id { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) { print $i; exit } }' "$tmp/run.out"; }
for id in fp16 rtn-w3-g32 rtn-w4-g32 minmax-w3-g32 minmax-w4-g32; do
  [ -n "$(ppl "$id")" ] || fail "no perplexity for $id in the run output: $(cat "$tmp/run.out")"
done

# ---- 1. csv: values, FP16 row, best marked ---------------------------------------------------
"$AH_BIN" report "$tmp/r.h5" --format csv --no-published > "$tmp/t.csv" 2> "$tmp/e" || err "csv: $(cat "$tmp/e")"
[ "$(head -n 1 "$tmp/t.csv")" = "method,INT3 g32,INT4 g32" ] || err "csv header: $(head -n 1 "$tmp/t.csv")"
cell() {   # file row col -> the cell text
  awk -F, -v r="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i } $1 == r { print $k }' "$1"
}
check_cell() {   # row col run-id
  local got want
  got=$(cell "$tmp/t.csv" "$1" "$2"); want=$(ppl "$3")
  [ "${got%\*}" = "$want" ] || err "csv $1 / $2 = '$got', the run printed $want"
}
check_cell FP32 "INT3 g32" fp16
check_cell FP32 "INT4 g32" fp16
check_cell RTN "INT3 g32" rtn-w3-g32
check_cell RTN "INT4 g32" rtn-w4-g32
check_cell MinMax "INT3 g32" minmax-w3-g32
check_cell MinMax "INT4 g32" minmax-w4-g32
[ "$(awk -F, 'NR > 1 { print $1 }' "$tmp/t.csv" | tr '\n' ' ')" = "FP32 RTN MinMax " ] ||
  err "csv rows: $(awk -F, 'NR > 1 { print $1 }' "$tmp/t.csv" | tr '\n' ' ')"
for col in "INT3 g32" "INT4 g32"; do
  r=$(cell "$tmp/t.csv" RTN "$col"); m=$(cell "$tmp/t.csv" MinMax "$col"); f=$(cell "$tmp/t.csv" FP32 "$col")
  case "$f" in *\*) err "csv: the FP16 reference is marked best in $col";; esac
  best=$(awk -v a="${r%\*}" -v b="${m%\*}" 'BEGIN { print (a + 0 <= b + 0) ? "RTN" : "MinMax" }')
  marked=""
  case "$r" in *\*) marked="$marked RTN";; esac
  case "$m" in *\*) marked="$marked MinMax";; esac
  # Before issue 19 both columns were marked; a 0.01 lead on 4 windows is noise, not a finding.
  want=" $best"; [ "$col" = "INT4 g32" ] && want=""
  [ "$marked" = "$want" ] || err "csv $col: marked '$marked', want '$want' (RTN $r, MinMax $m)"
done

# ---- md and tex: same table ---------------------------------------------------------------------
"$AH_BIN" report "$tmp/r.h5" --no-published > "$tmp/t.md" 2> "$tmp/e" || err "md: $(cat "$tmp/e")"
# stories260K is an F32 checkpoint: its unquantized baseline is FP32, not FP16
grep -q '^| FP32 ' "$tmp/t.md" || err "md: no FP32 row: $(cat "$tmp/t.md")"
grep -q '^| Method *| INT3 g32 | INT4 g32 |$' "$tmp/t.md" || err "md header: $(grep -m1 '^|' "$tmp/t.md")"
[ "$(grep -o '\*\*[0-9.]*\*\*' "$tmp/t.md" | wc -l)" -eq 1 ] || err "md: expected 1 bold cell: $(cat "$tmp/t.md")"
grep -q 'beats the runner-up with 95% confidence (paired bootstrap over the same 4 evaluation windows' "$tmp/t.md" ||
  err "md: the caption does not state the rule: $(head -n 1 "$tmp/t.md")"
for col in "INT3 g32" "INT4 g32"; do
  for row in RTN MinMax; do
    v=$(cell "$tmp/t.csv" "$row" "$col")
    case "$v" in *\*)
      two=$(awk -v x="${v%\*}" 'BEGIN { printf "%.2f", x }')
      grep -q "^| $row .*\*\*$two\*\*" "$tmp/t.md" || err "md: $row / $col ($two) not bold: $(cat "$tmp/t.md")";;
    esac
  done
done
grep -q 'report-test: stories260K' "$tmp/t.md" || err "md: no caption naming the experiment and model"
"$AH_BIN" report "$tmp/r.h5" --format tex --no-published > "$tmp/t.tex" 2> "$tmp/e" || err "tex: $(cat "$tmp/e")"
grep -q '^\\begin{tabular}{lrr}$' "$tmp/t.tex" || err "tex: no tabular: $(cat "$tmp/t.tex")"
grep -q '^FP32 & ' "$tmp/t.tex" || err "tex: no FP32 row"
[ "$(grep -o '\\textbf{' "$tmp/t.tex" | wc -l)" -eq 1 ] || err "tex: expected 1 bold cell: $(cat "$tmp/t.tex")"
# --ci: value +- the run's recorded standard error; --compare: B - A with an interval that
# excludes 0 for RTN vs MinMax at INT3 and holds it at INT4.
attr() { h5dump -a "/runs/$1/$2" "$tmp/r.h5" 2>/dev/null | awk '/\(0\)/ { print $2 }'; }
for id in fp16 rtn-w3-g32 minmax-w4-g32; do   # every run records its interval around its ppl
  awk -v p="$(attr $id ppl)" -v s="$(attr $id ppl_se)" -v l="$(attr $id ppl_lo)" -v h="$(attr $id ppl_hi)" \
    'BEGIN { exit !(s > 0 && l < p && p < h) }' || err "$id: ppl_se/ppl_lo/ppl_hi missing or not around ppl"
done
se=$(attr rtn-w3-g32 ppl_se | awk '{ printf "%.2f", $1 }')
"$AH_BIN" report "$tmp/r.h5" --no-published --ci > "$tmp/ci.md" 2> "$tmp/e" || err "--ci: $(cat "$tmp/e")"
grep -q "^| RTN .* ± $se |" "$tmp/ci.md" || err "--ci: RTN INT3 lacks ± $se: $(cat "$tmp/ci.md")"
"$AH_BIN" report "$tmp/r.h5" --compare minmax-w3-g32 rtn-w3-g32 > "$tmp/c.out" 2> "$tmp/e" || err "--compare: $(cat "$tmp/e")"
grep -q '^B is worse than A with 95% confidence$' "$tmp/c.out" || err "--compare INT3: $(cat "$tmp/c.out")"
want=$(awk -v a="$(ppl minmax-w3-g32)" -v b="$(ppl rtn-w3-g32)" 'BEGIN { printf "%+.3f", b - a }')
grep -q "perplexity B - A: ${want}[0-9], 95% interval \[+" "$tmp/c.out" || err "--compare INT3 difference (want $want): $(cat "$tmp/c.out")"
"$AH_BIN" report "$tmp/r.h5" --compare minmax-w4-g32 rtn-w4-g32 > "$tmp/c.out" 2> "$tmp/e" || err "--compare INT4: $(cat "$tmp/e")"
grep -q '^the difference is within the noise' "$tmp/c.out" || err "--compare INT4: $(cat "$tmp/c.out")"
"$AH_BIN" report "$tmp/r.h5" --compare fp16 nosuch >/dev/null 2>"$tmp/e" && err "--compare with an unknown run id was accepted"
grep -q "no run 'nosuch'" "$tmp/e" || err "--compare unknown id message: $(cat "$tmp/e")"
"$AH_BIN" report "$tmp/r.h5" --compare fp16 >/dev/null 2>"$tmp/e"; [ $? -eq 2 ] || err "--compare with one run id: expected exit 2"
grep -q '^\\bottomrule$' "$tmp/t.tex" || err "tex: no \\bottomrule"

# ---- 2. published numbers -----------------------------------------------------------------------
# From the experiment's `published` key (stored in the results file) ...
"$AH_BIN" report "$tmp/r.h5" --format csv > "$tmp/p.csv" 2> "$tmp/p.err" || err "csv published: $(cat "$tmp/p.err")"
[ "$(head -n 1 "$tmp/p.csv")" = "method,INT3 g32,INT3 g32 (paper),INT3 g32 (diff),INT4 g32,INT4 g32 (paper),INT4 g32 (diff)" ] ||
  err "csv header with published numbers: $(head -n 1 "$tmp/p.csv")"
ours=$(ppl rtn-w3-g32)
want=$(awk -v a="$ours" 'BEGIN { printf "%+.4f", a - 7.25 }')
[ "$(cell "$tmp/p.csv" RTN "INT3 g32 (paper)")" = "7.2500" ] || err "paper value for RTN INT3: $(cell "$tmp/p.csv" RTN "INT3 g32 (paper)")"
[ "$(cell "$tmp/p.csv" RTN "INT3 g32 (diff)")" = "$want" ] || err "diff for RTN INT3: $(cell "$tmp/p.csv" RTN "INT3 g32 (diff)"), want $want"
ours=$(ppl minmax-w4-g32)
want=$(awk -v a="$ours" 'BEGIN { printf "%+.4f", a - 4.125 }')
[ "$(cell "$tmp/p.csv" MinMax "INT4 g32 (diff)")" = "$want" ] || err "diff for MinMax INT4 (by labels): $(cell "$tmp/p.csv" MinMax "INT4 g32 (diff)"), want $want"
[ -z "$(cell "$tmp/p.csv" FP32 "INT3 g32 (paper)")" ] || err "FP16 has a paper value it was not given"
grep -q 'published, not in these results: GPTQ / INT3 g32 = 5.5' "$tmp/p.err" || err "csv: unmatched number not reported on stderr: $(cat "$tmp/p.err")"
# ... and from --published, in md: the paper and delta columns, sources, the unmatched note.
"$AH_BIN" report "$tmp/r.h5" --published "$tmp/pub.csv" > "$tmp/p.md" 2> "$tmp/e" || err "md published: $(cat "$tmp/e")"
grep -q '^| Method *| INT3 g32 | *paper | *Δ | INT4 g32 | *paper | *Δ |$' "$tmp/p.md" || err "md header with published: $(grep -m1 '^|' "$tmp/p.md")"
want=$(awk -v a="$(ppl rtn-w3-g32)" 'BEGIN { printf "%+.2f", a - 7.25 }')
grep -q "^| RTN .*| 7.25 \[1\] | *$want |" "$tmp/p.md" || err "md: RTN row lacks 7.25 [1] and $want: $(grep '^| RTN' "$tmp/p.md")"
grep -q '^\[1\] Test et al., Table 1$' "$tmp/p.md" || err "md: source [1] not listed: $(cat "$tmp/p.md")"
grep -q '^published, not in these results: GPTQ / INT3 g32 = 5.5 (Test et al., Table 2; matches no run)$' "$tmp/p.md" ||
  err "md: unmatched note missing: $(cat "$tmp/p.md")"
"$AH_BIN" report "$tmp/r.h5" --format tex > "$tmp/p.tex" 2>/dev/null || err "tex published failed"
grep -q 'multicolumn{3}{c}{INT3 g32}' "$tmp/p.tex" && grep -q '& ours & paper & \$\\Delta\$' "$tmp/p.tex" ||
  err "tex: no ours/paper/Delta header: $(cat "$tmp/p.tex")"
"$AH_BIN" report "$tmp/r.h5" --no-published | grep -q paper && err "--no-published still compares"

# ---- 3. pivots and errors -----------------------------------------------------------------------
"$AH_BIN" report "$tmp/r.h5" --no-published --rows bits --cols method --format csv > "$tmp/v.csv" || err "pivot failed"
[ "$(head -n 1 "$tmp/v.csv")" = "bits,FP32,RTN,MinMax" ] || err "pivot header: $(head -n 1 "$tmp/v.csv")"
[ "$(cell "$tmp/v.csv" INT3 RTN | tr -d '*')" = "$(ppl rtn-w3-g32)" ] || err "pivot cell INT3 / RTN: $(cat "$tmp/v.csv")"
"$AH_BIN" report "$tmp/r.h5" --format pdf >/dev/null 2>"$tmp/e"; [ $? -eq 2 ] || err "--format pdf: expected exit 2"
"$AH_BIN" report "$tmp/r.h5" --rows ppl >/dev/null 2>"$tmp/e" && err "--rows ppl accepted"
grep -q "'ppl' is not a run parameter" "$tmp/e" || err "--rows ppl message: $(cat "$tmp/e")"
"$AH_BIN" report "$tmp/missing.h5" >/dev/null 2>"$tmp/e" && err "a missing results file was accepted"
printf 'run,value,source\nrtn-w3-g32,7.1,\n' > "$tmp/bad.csv"
"$AH_BIN" report "$tmp/r.h5" --published "$tmp/bad.csv" >/dev/null 2>"$tmp/e" && err "a published number without a source was accepted"
grep -q "bad.csv:2: no source" "$tmp/e" || err "no-source message: $(cat "$tmp/e")"
printf 'run,value,source\nrtn-w3-g32,abc,x\n' > "$tmp/bad.csv"
"$AH_BIN" report "$tmp/r.h5" --published "$tmp/bad.csv" >/dev/null 2>"$tmp/e" && err "value abc was accepted"
grep -q "bad.csv:2: the value field is not a finite number" "$tmp/e" || err "bad value message: $(cat "$tmp/e")"

# ---- 4. the paper experiments' published numbers parse ------------------------------------------
for f in experiments/paper/*.published.csv; do
  [ -f "$f" ] || continue
  "$AH_BIN" report "$tmp/r.h5" --published "$f" >/dev/null 2>"$tmp/e" || err "$f: $(cat "$tmp/e")"
done

[ $errors -eq 0 ] || fail "$errors report checks failed"
[ -n "${AH_VERBOSE:-}" ] && cat "$tmp/p.md"
exit 0
