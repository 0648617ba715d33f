#!/usr/bin/env bash
# test_awq.sh — `eval --method awq` on every family fixture (llama GQA, llama MHA F16, qwen2,
# opt, llama2.c): runs, gives a finite perplexity and a chosen alpha in [0, 1]; quantize-then-
# eval equals eval on the fly; every scale rule and clip setting runs; bad AWQ options and a
# calibration text shorter than one sequence give one-line errors.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
DATA="text:$FIX/text/eval.txt"
CAL=(--calib "text:$FIX/text/calib.txt" --calib-samples 8 --calib-seqlen 64)
errors=0
for fx in llama-gqa llama-mha-f16 qwen2 opt llama2c; do
  # shellcheck disable=SC2046
  line=$("$AH_BIN" eval --quiet $(fixture_model_args "$fx") --data "$DATA" --seqlen 64 --method awq \
         --bits 3 --group 32 "${CAL[@]}" 2>"$tmp/err" | tail -n 1)
  ppl=$(kv ppl "$line"); am=$(kv alpha_mean "$line")
  if [ -z "$ppl" ] || ! awk -v p="$ppl" -v a="$am" 'BEGIN{exit !(p > 1 && p < 1e9 && a >= 0 && a <= 1)}'; then
    echo "FAIL awq on $fx: $line $(cat "$tmp/err")"; errors=$((errors + 1))
  fi
done
# Round trip on an MHA fixture (all four groups, v -> o included).
m="$FIX/llama-mha-f16"
args=(--method awq --bits 4 --group 32 "${CAL[@]}")
fly=$(kv ppl "$("$AH_BIN" eval --quiet --model "$m" --data "$DATA" --seqlen 64 "${args[@]}" | tail -n 1)")
"$AH_BIN" quantize --quiet --model "$m" "${args[@]}" --out "$tmp/q" >/dev/null || fail "quantize --method awq failed"
for f in awq.safetensors quantized.safetensors manifest.json; do
  [ -s "$tmp/q/$f" ] || { echo "FAIL quantize --method awq wrote no $f"; errors=$((errors + 1)); }
done
grep -q '"chosen_alpha"' "$tmp/q/manifest.json" || { echo "FAIL manifest lacks chosen_alpha"; errors=$((errors + 1)); }
disk=$(kv ppl "$("$AH_BIN" eval --quiet --model "$tmp/q" --data "$DATA" --seqlen 64 | tail -n 1)")
[ -n "$fly" ] && [ "$fly" = "$disk" ] || { echo "FAIL awq round trip: on the fly $fly, exported $disk"; errors=$((errors + 1)); }
# Every rule and clip setting, and propagate = quantized.
for extra in "--scale-rule duo" "--scale-rule fixed --alpha 0.5" "--scale-rule search --alpha 0.25" \
             "--clip off" "--grid 5 --grid-include-one" "--propagate quantized" \
             "--scale-rule salient --salient-scale 2 --scale-pct 1" "--salient-pct 1"; do
  # shellcheck disable=SC2086
  line=$("$AH_BIN" eval --quiet --model "$FIX/opt" --data "$DATA" --seqlen 64 --method awq --bits 3 \
         --group 32 "${CAL[@]}" $extra 2>"$tmp/err" | tail -n 1)
  [ -n "$(kv ppl "$line")" ] || { echo "FAIL awq $extra: $(cat "$tmp/err")"; errors=$((errors + 1)); }
done
# Bad input.
bad() {
  local pat="$1"; shift
  "$AH_BIN" eval --quiet --model "$FIX/llama-gqa" --data "$DATA" --seqlen 64 "$@" >/dev/null 2>"$tmp/err"; local rc=$?
  if [ $rc -ne 1 ] && [ $rc -ne 2 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -Eq -- "$pat" "$tmp/err"; then
    echo "FAIL bad $*: exit $rc: $(cat "$tmp/err")"; errors=$((errors + 1))
  fi
}
printf 'Too short for one sequence.\n' >"$tmp/short.txt"
bad 'less than one calibration sequence' --method awq --calib "text:$tmp/short.txt" --calib-seqlen 64
bad 'needs calibration' --method awq
bad 'fixed needs an alpha' --method awq --scale-rule fixed "${CAL[@]}"
bad '--alpha: 1\.5 is outside \[0, 1\]' --method awq --alpha 1.5 "${CAL[@]}"
bad '--alpha applies to --method awq, awq\+gptq only' --method minmax --alpha 0.5
bad '--clip' --method awq --clip maybe "${CAL[@]}"
bad '--salient-scale: 0 is not a positive scale' --method awq --scale-rule salient --salient-scale 0 "${CAL[@]}"
[ $errors -eq 0 ] || fail "$errors AWQ check(s) failed"
echo "AWQ runs on every family; round trip exact; rules, clip, propagate and bad options as expected"
