#!/usr/bin/env bash
# test_stories260k_ppl.sh — the real pretrained stories260K (llama2.c .bin + tok512.bin) on
# ~40 KB of TinyStories validation text at seqlen 512: `awq-harness eval` must agree with the
# PyTorch reference (tools/ref_model.py, run live: a few seconds) to relative 1e-4 in ppl,
# with equal token and window counts, for the gptq and llamacpp protocols.
# Skips when ../shared/data is absent or /usr/bin/python3 has no torch.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

d="$SHARED/stories260K"
txt="$SHARED/tinystories/tinystories_val.txt"
[ -f "$d/stories260K.bin" ] && [ -f "$d/tok512.bin" ] || skip "$d not present"
[ -f "$txt" ] || skip "$txt not present"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null \
  || skip "/usr/bin/python3 lacks torch/numpy (apt-get install python3-torch python3-numpy)"
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c 40000 "$txt" | sed '$d' > "$tmp/ts40k.txt"   # the first ~40 KB, cut at a line boundary

errors=0
for proto in gptq llamacpp; do
  ref=$(/usr/bin/python3 tools/ref_model.py --model "$d/stories260K.bin" --tokenizer-bin "$d/tok512.bin" \
        --text "$tmp/ts40k.txt" --seqlen 512 --protocol "$proto" 2>&1 | tail -n 1)
  want_ppl=$(kv ppl "$ref"); want_tok=$(kv tokens "$ref"); want_win=$(kv windows "$ref")
  [ -n "$want_ppl" ] || fail "reference failed ($proto): $ref"
  out=$("$AH_BIN" eval --model "$d/stories260K.bin" --tokenizer "$d/tok512.bin" \
        --data "text:$tmp/ts40k.txt" --seqlen 512 --protocol "$proto" 2>&1); rc=$?
  last=$(printf '%s\n' "$out" | tail -n 1)
  if [ $rc -ne 0 ]; then
    echo "MISMATCH $proto: awq-harness exit $rc"; printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /'
    errors=$((errors + 1)); continue
  fi
  ppl=$(kv ppl "$last"); tok=$(kv tokens "$last"); win=$(kv windows "$last")
  msg=""
  if [ -z "$ppl" ] || ! rel_close "$ppl" "$want_ppl" 1e-4; then msg+=" ppl=$ppl (want $want_ppl)"; fi
  [ "$tok" = "$want_tok" ] || msg+=" tokens=$tok (want $want_tok)"
  [ "$win" = "$want_win" ] || msg+=" windows=$win (want $want_win)"
  if [ -n "$msg" ]; then
    echo "MISMATCH $proto:$msg"; echo "    harness: $last"; echo "    reference: $ref"
    errors=$((errors + 1))
  else
    echo "ok $proto ppl=$ppl (reference $want_ppl) tokens=$tok windows=$win"
  fi
done
[ $errors -eq 0 ] || fail "stories260K: $errors protocol(s) differ from the reference"
