#!/usr/bin/env bash
# test_gptq_reference.sh — the C GPTQ against the independent PyTorch reference
# (tools/ref_gptq.py, written from the paper and METHODS.md), run live (a few seconds each):
# on the committed fixtures, calibration = the first 16 blocks of 64 tokens of
# text/calib.txt, quantizer minmax, damp 0.01, block 128. For llama-gqa every combination of
# 3 / 4 bits, g32 / per row, act_order off / on; one configuration for each other family
# (F16, BF16, OPT, llama2.c). Asserts, per configuration: the integer codes the C `quantize`
# exports equal the reference's for >= 99.9% of the weights, and the perplexity of
# `eval --method gptq` is within relative 1e-3 of the reference's.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || skip "/usr/bin/python3 with torch + numpy absent"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
CAL=(--calib-seqlen 64 --calib-samples 16)
n=0; errors=0
check() {   # fixture bits group act(0|1)
  local fx="$1" bits="$2" group="$3" act="$4" name="$1-b$2-g$3-act$4" margs rargs ids aflag=()
  if [ "$fx" = llama2c ]; then
    margs="--model $FIX/llama2c/model.bin --tokenizer $FIX/llama2c/tokenizer.bin"
    rargs="--model $FIX/llama2c/model.bin --tokenizer-bin $FIX/llama2c/tokenizer.bin"
  else margs="--model $FIX/$fx"; rargs="$margs"; fi
  ids="$FIX/$fx/ids.txt"
  # Calibration ids for the reference: the harness's tokenization of the calibration text (its
  # tokenizers equal HuggingFace's on committed goldens: test_tokenizer); the npm reference
  # tokenizer is not installed on a fresh clone.
  local cal_ids="$tmp/$fx.calib.ids" cal_arg=()
  if [ "$fx" != llama2c ]; then
    "$AH_BIN" tokenize --tokenizer "$FIX/$fx" --format ids --data "text:$FIX/text/calib.txt" >"$cal_ids" ||
      { echo "MISMATCH $name: tokenize failed"; errors=$((errors + 1)); return; }
    cal_arg=(--calib-ids "$cal_ids")
  fi
  [ "$act" = 1 ] && aflag=(--act-order)
  n=$((n + 1))
  # shellcheck disable=SC2086
  ref=$(/usr/bin/python3 tools/ref_gptq.py $rargs --ids "$ids" --seqlen 64 --calib-text "$FIX/text/calib.txt" \
        "${cal_arg[@]}" "${CAL[@]}" --bits "$bits" --group "$group" "${aflag[@]}" --codes-out "$tmp/$name.npz" --threads 1 --quiet 2>"$tmp/err" | tail -n 1)
  [ -n "$(kv ppl "$ref")" ] || { echo "MISMATCH $name: reference failed: $(tail -n 3 "$tmp/err")"; errors=$((errors + 1)); return; }
  local C=(--method gptq --bits "$bits" --group "$group" "${aflag[@]}" --calib "text:$FIX/text/calib.txt" "${CAL[@]}" --calib-pick first)
  # shellcheck disable=SC2086
  got=$("$AH_BIN" eval --quiet $margs --data "text:$FIX/text/eval.txt" --seqlen 64 "${C[@]}" 2>&1 | tail -n 1)
  # shellcheck disable=SC2086
  "$AH_BIN" quantize --quiet $margs "${C[@]}" --out "$tmp/$name" >/dev/null 2>"$tmp/err" ||
    { echo "MISMATCH $name: quantize failed: $(cat "$tmp/err")"; errors=$((errors + 1)); return; }
  if ! rel_close "$(kv ppl "$got")" "$(kv ppl "$ref")" 1e-3; then
    echo "MISMATCH $name: ppl C $(kv ppl "$got"), reference $(kv ppl "$ref")"; errors=$((errors + 1))
  fi
  /usr/bin/python3 - "$tmp/$name/quantized.safetensors" "$tmp/$name.npz" "$bits" "$name" <<'PY' || errors=$((errors + 1))
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; hdr = json.loads(raw[8:8 + n])
ref = np.load(sys.argv[2]); bits = int(sys.argv[3])
per = 8 // bits; slot = 8 // per
same = total = 0; worst = ""
for name in ref.files:
    h = hdr[name + ".qweight"]; b, e = h["data_offsets"]
    packed = np.frombuffer(raw[8 + n + b:8 + n + e], np.uint8).reshape(h["shape"])
    want = ref[name]; rows, cols = want.shape
    got = np.zeros((rows, cols), np.uint8)
    for c in range(cols):
        got[:, c] = (packed[:, c // per] >> (slot * (c % per))) & ((1 << bits) - 1)
    eq = int((got == want).sum()); same += eq; total += want.size
    if eq < want.size: worst += f" {name}:{want.size - eq}"
frac = same / total
if frac < 0.999:
    print(f"MISMATCH {sys.argv[4]}: codes equal for {frac:.5f} of {total} weights; differing:{worst}")
    sys.exit(1)
if "-v" in sys.argv or frac < 1: print(f"{sys.argv[4]}: codes equal {same}/{total}{worst}", file=sys.stderr)
PY
  [ -n "${AH_VERBOSE:-}" ] && echo "ok $name: ppl C $(kv ppl "$got") ref $(kv ppl "$ref")"
  return 0
}
if [ -n "${AH_QUICK:-}" ]; then   # the sanitizer pass (make test-asan): one per family kind
  check llama-gqa 3 32 1
  check opt 3 -1 1
else
  for bits in 3 4; do for group in 32 -1; do for act in 0 1; do check llama-gqa $bits $group $act; done; done; done
  check llama-mha-f16 3 32 1
  check qwen2 4 32 0
  check opt 3 -1 1
  check llama2c 4 32 1
fi
[ $errors -eq 0 ] || fail "$errors of $n GPTQ configurations differ from the reference"
echo "C GPTQ matches the PyTorch reference: $n configurations, codes >= 99.9% equal, ppl within 1e-3"
