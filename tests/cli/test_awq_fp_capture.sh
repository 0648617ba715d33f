#!/usr/bin/env bash
# test_awq_fp_capture.sh — the AWQ search takes the FP output of the attention and the MLP
# (the reference its candidates' losses are measured against) from the calibration forward's
# captured o_proj / down inputs instead of running the FP module again (awq.c,
# module_out_captured). That must not move a bit: with AH_TEST_AWQ_FP_FORWARD set the search
# runs the FP module as before, and `quantize --method awq` must write byte-identical files —
# the recorded losses of every alpha included (awq.safetensors *.loss), which any difference
# in the reference output would change — on a GQA Llama (q/k/v + MLP), an MHA Llama in F16
# (also the v -> o group), Qwen2 (q/k/v biases) and OPT (out_proj bias, ReLU MLP), with the
# loss sequences K = all N (the capture applies) and K < N (it does not; the FP pass runs).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
errors=0; n=0
for fx in llama-gqa llama-mha-f16 qwen2 opt; do
  for k in 0 3; do   # --awq-samples: 0 = all 8 calibration sequences
    n=$((n + 1))
    args=(quantize --quiet $(fixture_model_args "$fx") --method awq --bits 3 --group 32
          --calib "text:$FIX/text/calib.txt" --calib-samples 8 --calib-seqlen 64 --awq-samples $k)
    "$AH_BIN" "${args[@]}" --out "$tmp/captured" >/dev/null 2>"$tmp/err" ||
      { echo "FAIL $fx K=$k: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
    AH_TEST_AWQ_FP_FORWARD=1 "$AH_BIN" "${args[@]}" --out "$tmp/forward" >/dev/null 2>"$tmp/err" ||
      { echo "FAIL $fx K=$k: quantize with the FP forward: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
    for f in "$tmp"/captured/*; do
      f=$(basename "$f")
      [ "$f" = manifest.json ] && continue   # records the command line and the time
      cmp -s "$tmp/captured/$f" "$tmp/forward/$f" ||
        { echo "FAIL $fx K=$k: $f differs between the captured and the recomputed FP output"; errors=$((errors + 1)); }
    done
    [ -f "$tmp/captured/awq.safetensors" ] || { echo "FAIL $fx K=$k: no awq.safetensors"; errors=$((errors + 1)); }
    rm -rf "$tmp/captured" "$tmp/forward"
  done
done
[ $errors -eq 0 ] || fail "$errors differences"
echo "AWQ FP output from the capture = recomputed, bit for bit: $n configurations (every file quantize writes, losses included)"
