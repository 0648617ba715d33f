#!/usr/bin/env bash
# test_fixture_ppl.sh — `awq-harness eval` on the committed fixture checkpoints must give the
# perplexity that the independent PyTorch reference (tools/ref_model.py, via
# tools/make-fixtures) stored in tests/fixtures/<name>/expected.json: ppl within relative
# 1e-4, tokens and windows equal, for the gptq protocol and for --protocol llamacpp.
# Covers llama (GQA, F32, untied), llama (MHA, F16, tied, sharded), qwen2 (biases, BF16),
# opt (LayerNorm, learned positions, F16) and a llama2.c .bin with its tokenizer.bin.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"

FIX=tests/fixtures
DATA="text:$FIX/text/eval.txt"

# jget FILE SECTION KEY: a value from expected.json (written one key per line by
# tools/make-fixtures). SECTION "gptq" = the top level, "llamacpp" = the nested object.
jget() {
  awk -v sec="$2" -v key="$3" '
    /^  "llamacpp": *\{/ { inl = 1; next }
    inl && /^  \}/      { inl = 0; next }
    {
      want = (sec == "llamacpp") ? inl : !inl
      if (want && match($0, "^ *\"" key "\": *")) {
        v = substr($0, RSTART + RLENGTH); sub(/,[ \t]*$/, "", v); gsub(/"/, "", v)
        print v; exit
      }
    }' "$1"
}

errors=0
check() {   # name protocol -- model args...
  local name="$1" proto="$2"; shift 3
  local exp="$FIX/$name/expected.json"
  [ -f "$exp" ] || { echo "MISMATCH $name: $exp missing"; errors=$((errors + 1)); return; }
  local seqlen want_ppl want_tok want_win out rc last
  seqlen=$(jget "$exp" gptq seqlen)
  want_ppl=$(jget "$exp" "$proto" ppl)
  want_tok=$(jget "$exp" "$proto" tokens)
  want_win=$(jget "$exp" "$proto" windows)
  local pargs=()
  [ "$proto" = gptq ] || pargs=(--protocol "$proto")
  out=$("$AH_BIN" eval "$@" --data "$DATA" --seqlen "$seqlen" "${pargs[@]}" 2>&1); rc=$?
  last=$(printf '%s\n' "$out" | tail -n 1)
  if [ $rc -ne 0 ]; then
    echo "MISMATCH $name/$proto: exit $rc"; printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /'
    errors=$((errors + 1)); return
  fi
  local ppl tok win
  ppl=$(kv ppl "$last"); tok=$(kv tokens "$last"); win=$(kv windows "$last")
  local msg=""
  if [ -z "$ppl" ] || ! rel_close "$ppl" "$want_ppl" 1e-4; then msg+=" ppl=$ppl (want $want_ppl)"; fi
  [ "$tok" = "$want_tok" ] || msg+=" tokens=$tok (want $want_tok)"
  [ "$win" = "$want_win" ] || msg+=" windows=$win (want $want_win)"
  if [ -n "$msg" ]; then
    echo "MISMATCH $name/$proto:$msg"; echo "    last line: $last"
    errors=$((errors + 1))
  else
    [ -n "${AH_VERBOSE:-}" ] && echo "ok $name/$proto ppl=$ppl (want $want_ppl) tokens=$tok windows=$win"
  fi
}

for proto in gptq llamacpp; do
  for name in llama-gqa llama-mha-f16 qwen2 opt; do
    check "$name" "$proto" -- --model "$FIX/$name"
  done
  check llama2c "$proto" -- --model "$FIX/llama2c/model.bin" --tokenizer "$FIX/llama2c/tokenizer.bin"
done

# The C tokenizer's ids of eval.txt must be exactly the reference's (ids_sha256 is the SHA-256
# of the reference ids as little-endian int32, the same digest `tokenize --format summary` prints).
for name in llama-gqa llama-mha-f16 qwen2 opt llama2c; do
  tokpath="$FIX/$name"; [ "$name" = llama2c ] && tokpath="$FIX/llama2c/tokenizer.bin"
  want=$(jget "$FIX/$name/expected.json" gptq ids_sha256)
  got=$("$AH_BIN" tokenize --tokenizer "$tokpath" --data "$DATA" --format summary 2>&1)
  if [ "${got##*sha256=}" != "$want" ]; then
    echo "MISMATCH $name: token ids differ from the reference ($got; want sha256=$want)"
    errors=$((errors + 1))
  fi
done

[ $errors -eq 0 ] || fail "$errors fixture evaluation(s) differ from the reference"
echo "all fixtures match the reference"
