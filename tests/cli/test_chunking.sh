#!/usr/bin/env bash
# test_chunking.sh — big linears are walked in chunks of rows (ah_chunk_rows: the AWQ search's
# candidates, method_apply_block's scratch, the export sink), to bound memory beside a block.
# The fixtures' linears fit in one chunk; AH_TEST_CHUNK_BYTES shrinks the chunks to a few rows
# so that every path runs in many chunks, and the results must not change at all:
#  1. `quantize` writes byte-identical files (fake-quantized values, packed codes, scales,
#     zeros, kept columns, AWQ scales and clip thresholds) for awq, minmax with salient
#     columns, gptq and awq+gptq;
#  2. `eval --method awq` gives the same alphas, perplexity and error metrics.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
CALIB=(--calib "text:$FIX/text/calib.txt" --calib-samples 8 --calib-seqlen 64)
SMALL=1   # bytes per chunk: the 64-row minimum (linears of up to 64 rows stay whole)
errors=0; n=0

same_files() {   # name dir_a dir_b
  local f
  for f in "$2"/*; do
    f=$(basename "$f")
    [ "$f" = manifest.json ] && continue   # records the command line and the time
    cmp -s "$2/$f" "$3/$f" || { echo "FAIL $1: $f differs with chunks of $SMALL bytes"; errors=$((errors + 1)); }
  done
}

for fx in llama-gqa opt; do
  for method in "awq --clip on" "salient --salient-pct 5" "gptq" "awq+gptq"; do
    n=$((n + 1))
    args=(--method $method --bits 3 --group 32 "${CALIB[@]}")
    # shellcheck disable=SC2046
    "$AH_BIN" quantize --quiet $(fixture_model_args "$fx") "${args[@]}" --out "$tmp/whole" >/dev/null 2>"$tmp/err" ||
      { echo "FAIL $fx $method: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
    # shellcheck disable=SC2046
    AH_TEST_CHUNK_BYTES=$SMALL "$AH_BIN" quantize --quiet $(fixture_model_args "$fx") "${args[@]}" \
      --out "$tmp/chunked" >/dev/null 2>"$tmp/err" ||
      { echo "FAIL $fx $method: chunked quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
    same_files "$fx $method" "$tmp/whole" "$tmp/chunked"
    rm -rf "$tmp/whole" "$tmp/chunked"
  done
  n=$((n + 1))
  ev=(eval --quiet $(fixture_model_args "$fx") --data "text:$FIX/text/eval.txt" --seqlen 64
      --method awq --bits 4 --group 32 "${CALIB[@]}")
  whole=$("$AH_BIN" "${ev[@]}" | tail -n 1)
  chunked=$(AH_TEST_CHUNK_BYTES=$SMALL "$AH_BIN" "${ev[@]}" | tail -n 1)
  for k in ppl alphas weight_mse output_mse; do
    if [ -z "$(kv $k "$whole")" ] || [ "$(kv $k "$whole")" != "$(kv $k "$chunked")" ]; then
      echo "FAIL $fx eval awq: $k $(kv $k "$whole") whole, $(kv $k "$chunked") chunked"; errors=$((errors + 1))
    fi
  done
done
[ $errors -eq 0 ] || fail "$errors differences between whole and chunked runs"
echo "chunked = whole, bit for bit: $n configurations (quantize files, eval ppl / alphas / metrics)"
