#!/usr/bin/env bash
# test_quantize.sh — quantization end to end on the committed fixtures:
#  1. round trip: `quantize --out D` then `eval --model D` gives exactly the perplexity of
#     `eval --method ...` on the fly, for every family and dtype (F32, F16 sharded, BF16,
#     OPT, llama2.c) and every method;
#  2. minmax at 8 bits changes the perplexity by under 0.1%; weight error falls as bits rise;
#  3. bad options (bits outside 2..8, group 0, salient % outside [0, 100]: the parameter table's
#     range messages, as an INI gets them; a model path that
#     is not a checkpoint) give a one-line error and a non-zero exit.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
DATA="text:$FIX/text/eval.txt"
CALIB="text:$FIX/text/calib.txt"
errors=0


# 1. round trips
roundtrip() {   # fixture, method args...
  local fx="$1"; shift
  local out="$tmp/q-$fx" on_fly from_disk tokarg=""
  rm -rf "$out"
  # shellcheck disable=SC2046
  "$AH_BIN" quantize --quiet $(fixture_model_args "$fx") "$@" --out "$out" >/dev/null 2>"$tmp/err" ||
    { echo "FAIL $fx $*: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); return; }
  on_fly=$("$AH_BIN" eval --quiet $(fixture_model_args "$fx") --data "$DATA" --seqlen 64 "$@" | tail -n 1)
  [ "$fx" = llama2c ] && tokarg="--tokenizer $out/tokenizer.bin"
  local m="$out"; [ "$fx" = llama2c ] && m="$out/model.bin"
  # shellcheck disable=SC2086
  from_disk=$("$AH_BIN" eval --quiet --model "$m" $tokarg --data "$DATA" --seqlen 64 | tail -n 1)
  if [ "$(kv ppl "$on_fly")" != "$(kv ppl "$from_disk")" ] || [ -z "$(kv ppl "$on_fly")" ]; then
    echo "FAIL $fx $*: on the fly ppl=$(kv ppl "$on_fly"), exported ppl=$(kv ppl "$from_disk")"
    errors=$((errors + 1))
  fi
  for f in manifest.json quantized.safetensors; do
    [ -s "$out/$f" ] || { echo "FAIL $fx: $f missing"; errors=$((errors + 1)); }
  done
}
for fx in llama-gqa llama-mha-f16 qwen2 opt llama2c; do
  roundtrip "$fx" --method minmax --bits 4 --group 32
done
roundtrip llama-gqa --method rtn --bits 3 --group -1
roundtrip qwen2 --method gptq-rtn --bits 2 --group 16
roundtrip opt --method salient --bits 3 --group 32 --salient-pct 1 --salient-by activation --calib "$CALIB" --calib-samples 8 --calib-seqlen 64
roundtrip llama-mha-f16 --method salient --bits 3 --group 24 --salient-pct 5 --salient-by random
GC=(--calib "$CALIB" --calib-samples 8 --calib-seqlen 64)
roundtrip llama-gqa --method gptq --bits 3 --group 32 "${GC[@]}"
roundtrip llama-mha-f16 --method gptq --bits 4 --group 24 --act-order --block-size 16 "${GC[@]}"
roundtrip qwen2 --method gptq --bits 3 --group -1 --damp 0.1 "${GC[@]}"
roundtrip llama2c --method gptq --bits 4 --group 32 --act-order "${GC[@]}"
roundtrip opt --method awq+gptq --bits 3 --group 32 "${GC[@]}"

# GPTQ's exported codes: (code - zero) * scale from quantized.safetensors equals the fake
# weights of model.safetensors (F32 fixture: no dtype rounding) bit for bit.
gq="$tmp/q-gptq-codes"
"$AH_BIN" quantize --quiet --model "$FIX/llama-gqa" --method gptq --bits 3 --group 24 --act-order \
  "${GC[@]}" --out "$gq" >/dev/null 2>"$tmp/err" || { echo "FAIL gptq codes: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); }
if [ -x /usr/bin/python3 ] && [ -s "$gq/quantized.safetensors" ]; then
  /usr/bin/python3 - "$gq" <<'PY' || { echo "FAIL gptq codes do not dequantize to the exported weights"; errors=$((errors + 1)); }
import json, struct, sys
import numpy as np
def load(path):
    raw = open(path, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; hdr = json.loads(raw[8:8 + n])
    dt = {"F32": np.float32, "U8": np.uint8, "I32": np.int32}
    return {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             dtype=dt[v["dtype"]]).reshape(v["shape"])
            for k, v in hdr.items() if k != "__metadata__"}
q = load(sys.argv[1] + "/quantized.safetensors"); m = load(sys.argv[1] + "/model.safetensors")
bits, g, n = 3, 24, 0
for name in m:
    if name + ".qweight" not in q: continue
    w = m[name]; rows, cols = w.shape
    packed = q[name + ".qweight"]; codes = np.zeros((rows, cols), np.int64)
    for c in range(cols):   # two 4-bit slots per byte at 3 bits
        codes[:, c] = (packed[:, c // 2] >> (4 * (c % 2))) & 7
    gi = np.arange(cols) // g
    deq = ((codes.astype(np.float32) - q[name + ".zeros"][:, gi].astype(np.float32)) * q[name + ".scales"][:, gi]).astype(np.float32)
    assert np.array_equal(deq, w), name
    n += 1
assert n == 14, n
PY
fi

# 2. 8-bit minmax is nearly lossless; weight error falls with bits
fp=$(kv ppl "$("$AH_BIN" eval --quiet --model "$FIX/llama-gqa" --data "$DATA" --seqlen 64 | tail -n 1)")
prev=""
for b in 2 3 4 5 6 7 8; do
  line=$("$AH_BIN" eval --quiet --model "$FIX/llama-gqa" --data "$DATA" --seqlen 64 --method minmax --bits "$b" --group 32 | tail -n 1)
  mse=$(kv weight_mse "$line")
  if [ -n "$prev" ] && ! awk -v a="$mse" -v b="$prev" 'BEGIN{exit !(a < b)}'; then
    echo "FAIL weight MSE at $b bits ($mse) not below $((b - 1)) bits ($prev)"; errors=$((errors + 1))
  fi
  prev=$mse
  [ "$b" = 8 ] && { rel_close "$(kv ppl "$line")" "$fp" 1e-3 ||
    { echo "FAIL 8-bit minmax ppl $(kv ppl "$line") vs FP $fp: more than 0.1% apart"; errors=$((errors + 1)); }; }
done

# 3. bad options
bad() {   # pattern, args...
  local pat="$1"; shift
  "$AH_BIN" "$@" >/dev/null 2>"$tmp/err"; local rc=$?
  if [ $rc -ne 1 ] && [ $rc -ne 2 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -Eq -- "$pat" "$tmp/err"; then
    echo "FAIL bad option $*: exit $rc, stderr: $(cat "$tmp/err")"; errors=$((errors + 1))
  fi
}
Q=(quantize --model "$FIX/llama-gqa" --out "$tmp/bad")
bad '--bits: 9 is not a whole number of bits in 2\.\.8' "${Q[@]}" --method minmax --bits 9
bad '--bits: 1 is not a whole number of bits in 2\.\.8' eval --model "$FIX/llama-gqa" --data "$DATA" --method rtn --bits 1
bad '--group: 0 is not a group size' "${Q[@]}" --method minmax --group 0
bad '--salient-pct: 101% is outside \[0, 100\]' "${Q[@]}" --method salient --salient-pct 101 --salient-by weight
bad '--salient-pct: -1% is outside \[0, 100\]' "${Q[@]}" --method salient --salient-pct -1 --salient-by weight
bad 'needs calibration' "${Q[@]}" --method salient --salient-pct 1
bad 'no config\.json' quantize --model "$tmp" --method minmax --out "$tmp/bad"
bad '--method' "${Q[@]}" --method awq-typo
bad '--damp applies to --method gptq, awq\+gptq only' "${Q[@]}" --method minmax --damp 0.1
bad '--damp: -1 is not a relative dampening' "${Q[@]}" --method gptq --damp -1 --calib "$CALIB"
bad 'needs calibration' "${Q[@]}" --method gptq

[ $errors -eq 0 ] || fail "$errors quantization check(s) failed"
echo "quantize round trips, bit monotonicity and bad options all as expected"
