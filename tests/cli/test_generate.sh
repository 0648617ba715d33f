#!/usr/bin/env bash
# test_generate.sh — `awq-harness generate` on stories260K (../shared/data): greedy decoding
# gives llama2.c's well-known story opening, is deterministic, prints the FP and the quantized
# continuation, top-k sampling is reproducible for a seed and changes with it, bad options fail.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
M="$SHARED/stories260K/stories260K.bin"; T="$SHARED/stories260K/tok512.bin"
[ -f "$M" ] || skip "$M not found (the shared stories260K model)"
gen() { "$AH_BIN" generate --model "$M" --tokenizer "$T" --prompt "Once upon a time" "$@" 2>/dev/null; }
out=$(gen --max-new 30) || fail "generate failed"
case "$out" in
  *"Once upon a time, there was a little girl named Lily. She loved to play outside in the park."*) ;;
  *) fail "unexpected greedy text: $out" ;;
esac
[ "$(gen --max-new 30)" = "$out" ] || fail "greedy generation is not deterministic"
q=$(gen --max-new 20 --method minmax --bits 3 --group 32) || fail "quantized generate failed"
printf '%s\n' "$q" | grep -q "^=== fp16 ===" || fail "no FP section"
printf '%s\n' "$q" | grep -q "^=== minmax w3 g32 ===" || fail "no quantized section: $q"
a=$(gen --max-new 30 --top-k 40 --temperature 1.0 --seed 1)
b=$(gen --max-new 30 --top-k 40 --temperature 1.0 --seed 1)
c=$(gen --max-new 30 --top-k 40 --temperature 1.0 --seed 2)
[ "$a" = "$b" ] || fail "top-k sampling with one seed differs between runs"
[ "$a" != "$c" ] || fail "top-k sampling ignores the seed"
"$AH_BIN" generate --model "$M" --tokenizer "$T" --prompt "x" --top-k 0 2>/dev/null && fail "--top-k 0 accepted"
"$AH_BIN" generate --model "$M" --tokenizer "$T" 2>/dev/null && fail "missing --prompt accepted"
"$AH_BIN" generate --model "$M" --tokenizer "$T" --prompt "x" --temperature -1 2>/dev/null && fail "negative temperature accepted"
echo "generate: ok"
