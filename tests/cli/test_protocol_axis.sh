#!/usr/bin/env bash
# test_protocol_axis.sh — `protocol` as a sweep axis (issue 20): [sweep] protocol = gptq,
# llamacpp on the llama-gqa fixture
#  1. plans every run once per protocol, ids "-p.gptq" / "-p.llamacpp", one FP baseline each;
#  2. each run records its protocol in /summary, and its perplexity is the one `eval
#     --protocol P` prints for the same model, data, method and windows (so the sweep really
#     scored what it says);
#  3. the two protocols give different perplexities (different tokens are scored);
#  4. protocol = lmeval in [sweep] is one error naming the file and line.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0

{ fixture_experiment proto "$tmp/p.h5" "$tmp/cache" 4; cat <<EOF
max_windows = 3
kld = no
[experiment]
threads = 1
[sweep]
method = fp16, rtn
bits = 3
group_size = 32
protocol = gptq, llamacpp
EOF
} >"$tmp/p.ini"

plan=$("$AH_BIN" run "$tmp/p.ini" --dry-run 2>&1) || fail "--dry-run failed: $plan"
ids=$(awk '/^ *[0-9]+  / {print $2}' <<<"$plan" | sort | tr '\n' ' ')
want="fp16-p.gptq fp16-p.llamacpp rtn-w3-g32-p.gptq rtn-w3-g32-p.llamacpp "
[ "$ids" = "$want" ] || fail "planned ids: got '$ids', want '$want'"

"$AH_BIN" run "$tmp/p.ini" >"$tmp/out" 2>&1 || fail "run failed: $(tail -5 "$tmp/out")"
$PY - "$tmp/p.h5" >"$tmp/rows" <<'EOF' || fail "reading /summary"
import sys, h5py
for r in h5py.File(sys.argv[1], "r")["summary"][:]:
    print(r["id"].decode(), r["protocol"].decode(), "%.6f" % r["ppl"])
EOF
[ "$(wc -l <"$tmp/rows")" -eq 4 ] || fail "expected 4 runs in /summary: $(cat "$tmp/rows")"
fx=tests/fixtures
while read -r id proto ppl; do
  case "$id" in *-p."$proto") ;; *) fail "$id records protocol $proto" ;; esac
  case "$id" in rtn*) m="--method rtn --bits 3 --group 32" ;; *) m="" ;; esac
  line=$("$AH_BIN" eval --model $fx/llama-gqa --data "text:$fx/text/eval.txt" --seqlen 64 --max-windows 3 \
           --protocol "$proto" --threads 1 $m 2>/dev/null | tail -n 1)
  theirs=$(tr ' ' '\n' <<<"$line" | sed -n 's/^ppl=//p')
  awk -v a="$ppl" -v b="$theirs" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 1e-6 * b)}' ||
    fail "$id: the sweep's ppl $ppl, eval --protocol $proto gives $theirs"
done <"$tmp/rows"
g=$(awk '$1 == "fp16-p.gptq" {print $3}' "$tmp/rows"); l=$(awk '$1 == "fp16-p.llamacpp" {print $3}' "$tmp/rows")
[ "$g" != "$l" ] || fail "gptq and llamacpp protocols gave the same perplexity $g"

sed 's/^protocol = gptq, llamacpp$/protocol = gptq, lmeval/' "$tmp/p.ini" >"$tmp/bad.ini"
expect_error lmeval-axis "bad.ini:[0-9]*: protocol: expected gptq or llamacpp, got 'lmeval'" -- "$AH_BIN" run "$tmp/bad.ini" --dry-run
[ $errors -eq 0 ] || fail "$errors failures"
echo "protocol axis: 4 runs (2 protocols x fp16, rtn), each equal to eval --protocol P; lmeval refused"
