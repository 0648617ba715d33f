#!/usr/bin/env bash
# test_interop_quant.sh — `quantize --format awq|compressed-tensors` judged by the real peers
# (run by `make interop`, not by `make test`: it needs the peers' venv, tools/peers/venv,
# several GB installed once outside the repository). tools/peers/check_export.py does the
# checking; per case:
#   awq                 AutoAWQ 0.2.9's own `dequantize_gemm` (awq/utils/packing_utils.py)
#                       returns exactly the weights the harness evaluated;
#   compressed-tensors  compressed-tensors 0.19.0's PackedQuantizationCompressor.decompress
#                       returns exactly those weights; transformers 5.17 loads the directory on
#                       CPU (decompressing) with those weights, and its mean NLL over the
#                       harness's windows equals the harness's within 1e-5.
# (An F16 checkpoint's weights are compared after rounding transformers' float32 ones to F16,
# the dtype the harness evaluates them in; its NLL is not compared: transformers in float32
# computes with the unrounded products, in float16 with F16 activations.)
# "The weights the harness evaluated" are model.safetensors of `quantize --format harness
# --scale-dtype D` of the same run (D: the format's scale dtype); the harness's NLL is `eval`
# of the export itself (model/import.c), which test_export_quant.sh holds equal to the run's.
# Not judged here (no peer installs in the venv; docs/EXPORT.md says why): transformers'
# loading of AWQ and GPTQ directories (transformers 5.17 needs gptqmodel for both, and
# gptqmodel 7.7.0 needs transformers >= 5.20.2 and torch >= 2.14.1) and GPTQ's dequantization.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0 cases=0

venv=$(tools/peers/venv) || skip "the peers' venv could not be created (tools/peers/venv: no network?)"
PY="$venv/bin/python"
FIX=tests/fixtures
TEXT=models/tinyprose/data/heldout.txt
SEQLEN=256

# check FORMAT SCALE_DTYPE MODEL METHOD_ARGS...
check() {
  local fmt="$1" sd="$2" model="$3"; shift 3
  local x="$tmp/x" ref="$tmp/ref" nll=()
  cases=$((cases + 1))
  rm -rf "$x" "$ref"
  "$AH_BIN" quantize --quiet --model "$model" "$@" --format "$fmt" --out "$x" >/dev/null 2>"$tmp/err" &&
    "$AH_BIN" quantize --quiet --model "$model" "$@" --scale-dtype "$sd" --out "$ref" >/dev/null 2>>"$tmp/err" ||
    { echo "FAIL $fmt $model $*: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); return; }
  if [ "$fmt" = compressed-tensors ] && [ "$sd" = f32 ]; then   # NLL: F32 models (below)
    "$AH_BIN" tokenize --tokenizer "$model" --data "text:$tmp/text" >"$tmp/ids" 2>"$tmp/err" ||
      { echo "FAIL tokenize: $(cat "$tmp/err")"; errors=$((errors + 1)); return; }
    local line
    line=$("$AH_BIN" eval --quiet --model "$x" --data "ids:$tmp/ids" --seqlen "$SEQLEN" | tail -n 1)
    nll=(--nll "$tmp/ids" "$SEQLEN" "$(kv nll "$line")")
    echo "  $fmt $model $*: harness ppl=$(kv ppl "$line") nll=$(kv nll "$line")"
  fi
  if ! "$PY" tools/peers/check_export.py "$fmt" "$x" "$ref" "${nll[@]}" >"$tmp/py" 2>&1; then
    echo "FAIL $fmt $model $*:"; grep -v 'it/s\]' "$tmp/py" | tail -n 8 | sed 's/^/    /'
    errors=$((errors + 1))
  else
    grep '^check_export' "$tmp/py" | sed 's/^/  /'
  fi
}

head -c 40000 "$TEXT" >"$tmp/text"   # 40 windows of 256: enough for a 1e-5 NLL comparison
check awq f16 models/tinyprose --method awq --bits 4 --group 32 --calib "text:models/tinyprose/data/calib.txt" --calib-samples 16 --calib-seqlen 256
check awq f16 models/tinyprose --method minmax --bits 4 --group 64
check awq f16 "$FIX/llama-mha-f16" --method rtn --bits 4 --group 32
check compressed-tensors f32 models/tinyprose --method minmax --bits 4 --group 32
check compressed-tensors f32 models/tinyprose --method rtn --bits 8 --group 64
check compressed-tensors f16 "$FIX/llama-mha-f16" --method minmax --bits 4 --group 32

[ "$errors" -eq 0 ] || { echo "$errors failure(s)"; exit 1; }
echo "interop quant: $cases exports equal to the evaluated weights in the peers' own code"
