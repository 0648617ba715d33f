#!/usr/bin/env bash
# test_import_gguf.sh — `--model FILE.gguf` (model/gguf_model.c, text/tok_gguf.c), judged
# against the harness's own exports (llama.cpp's files: tests/cli/test_interop_gguf.sh):
#  1. import(export(run)) reproduces the run exactly: `eval --model X.gguf` prints the ppl and
#     nll (every digit) of `eval` of the same run exported in the harness format
#     (`--scale-dtype` of the block type for gguf-q4_0 / q4_1 / q8_0), for an F32 llama (GQA),
#     an F16 llama, a BF16 qwen2 (written F32), a llama2.c model (interleaved RoPE, rows not
#     permuted) and the bundled model, unquantized and minmax / rtn / awq, 4 and 8 bits;
#  2. the GGUF's tokenizer (tokenize --tokenizer X.gguf) gives the source tokenizer's ids on the
#     fixture text: SentencePiece from tokenizer.json and from llama2.c, byte-level BPE
#     (gpt-2 and qwen2 pre-tokenizers);
#  3. a llama file whose Q/K rows are read the other way (the llama2.c export with its
#     awq_harness.rope_source key turned to "rotate-half": rows permuted back, rotate-half
#     RoPE, as for a llama.cpp-converted file) computes the same function: its ppl agrees to
#     1e-5 relative (float summation order differs, so not bit for bit);
#  4. an imported GGUF quantizes and re-exports as GGUF (the result loads again and evaluates
#     to the run's ppl); --format harness refuses it in one line.
# Damaged files (truncated, bad magic, unknown types, ...) are in test_reliability_model.sh.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 not found (it patches a GGUF key in part 3)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
DATA="text:$FIX/text/eval.txt"
GC=(--calib "text:$FIX/text/calib.txt" --calib-samples 8 --calib-seqlen 64)
errors=0 cases=0

margs() {   # --model (and --tokenizer) of a fixture or the bundled model
  if [ "$1" = tinyprose ]; then echo "--model models/tinyprose"; else fixture_model_args "$1"; fi
}
# "ppl=X nll=Y" of an eval (every printed digit), or "error: ...".
ppl_nll() {
  local out
  # shellcheck disable=SC2068
  out=$("$AH_BIN" eval --quiet $@ --data "$DATA" --seqlen 64 --max-windows 12 2>"$tmp/err" | tail -n 1) ||
    { echo "error: $(cat "$tmp/err")"; return; }
  echo "ppl=$(kv ppl "$out") nll=$(kv nll "$out")"
}

# roundtrip FORMAT SCALE_DTYPE FIXTURE METHOD_ARGS...: SCALE_DTYPE "-": the run's own export.
roundtrip() {
  local fmt="$1" sd="$2" fx="$3"; shift 3
  local g="$tmp/x.gguf" h="$tmp/h" ref got sdargs=()
  [ "$sd" != - ] && sdargs=(--scale-dtype "$sd")
  cases=$((cases + 1))
  rm -rf "$g" "$h"
  # shellcheck disable=SC2046
  if ! "$AH_BIN" quantize --quiet $(margs "$fx") "$@" --format "$fmt" --out "$g" >/dev/null 2>"$tmp/err"; then
    echo "FAIL $fmt $fx $*: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); return
  fi
  if [ "$*" = "--method fp16" ]; then   # unquantized: the source checkpoint itself
    # shellcheck disable=SC2046
    ref=$(ppl_nll $(margs "$fx"))
  else
    # shellcheck disable=SC2046
    "$AH_BIN" quantize --quiet $(margs "$fx") "$@" "${sdargs[@]}" --out "$h" >/dev/null 2>"$tmp/err" ||
      { echo "FAIL $fmt $fx $*: quantize (harness format): $(cat "$tmp/err")"; errors=$((errors + 1)); return; }
    if [ -f "$h/model.bin" ]; then ref=$(ppl_nll --model "$h/model.bin" --tokenizer "$h/tokenizer.bin")
    else ref=$(ppl_nll --model "$h"); fi
  fi
  got=$(ppl_nll --model "$g")
  printf '  %-10s %-14s %-34s run %s  gguf %s\n' "$fmt" "$fx" "$*" "$ref" "$got"
  if [ "${ref#ppl=}" = "$ref" ] || [ "$ref" != "$got" ]; then
    echo "FAIL $fmt $fx $*: the imported GGUF does not reproduce the run"; errors=$((errors + 1))
  fi
}

# 1. round trips
roundtrip gguf - tinyprose --method fp16
roundtrip gguf - tinyprose --method minmax --bits 4 --group 32
roundtrip gguf - llama-gqa --method minmax --bits 4 --group 32
roundtrip gguf - llama-mha-f16 --method awq --bits 4 --group 32 "${GC[@]}"
roundtrip gguf - qwen2 --method rtn --bits 8 --group 32
roundtrip gguf - llama2c --method minmax --bits 4 --group 32
roundtrip gguf - llama2c --method fp16
roundtrip gguf-q4_0 f16 tinyprose --method rtn --bits 4 --group 32
roundtrip gguf-q4_1 f16-q41 tinyprose --method minmax --bits 4 --group 32
roundtrip gguf-q4_1 f16-q41 tinyprose --method awq --bits 4 --group 32 "${GC[@]}"
roundtrip gguf-q8_0 f16 tinyprose --method rtn --bits 8 --group 32

# 2. tokenizers: the GGUF's vocabulary against the source's own tokenizer
for fx in llama-mha-f16 llama2c tinyprose qwen2; do
  cases=$((cases + 1))
  src=$(margs "$fx" | sed 's/.*--tokenizer //; s/^--model //')
  # shellcheck disable=SC2046
  "$AH_BIN" quantize --quiet $(margs "$fx") --method fp16 --format gguf --out "$tmp/t.gguf" >/dev/null 2>"$tmp/err" ||
    { echo "FAIL tokenizer $fx: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
  for txt in "$FIX/text/eval.txt" models/tinyprose/data/heldout.txt; do
    "$AH_BIN" tokenize --tokenizer "$src" --data "text:$txt" >"$tmp/ids-src" 2>"$tmp/err" &&
      "$AH_BIN" tokenize --tokenizer "$tmp/t.gguf" --data "text:$txt" >"$tmp/ids-gguf" 2>>"$tmp/err" ||
      { echo "FAIL tokenizer $fx: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
    if ! cmp -s "$tmp/ids-src" "$tmp/ids-gguf" || [ ! -s "$tmp/ids-src" ]; then
      echo "FAIL tokenizer $fx on $txt: $(wc -l <"$tmp/ids-src") ids from the source, $(wc -l <"$tmp/ids-gguf") from the GGUF"
      diff "$tmp/ids-src" "$tmp/ids-gguf" | head -n 4 | sed 's/^/    /'; errors=$((errors + 1))
    fi
  done
  echo "  tokenizer $fx: $(wc -l <"$tmp/ids-src") ids on the held-out text, same from the GGUF"
done

# 3. the same llama2.c file read as a llama.cpp-converted one (rows permuted back)
cases=$((cases + 1))
# shellcheck disable=SC2046
"$AH_BIN" quantize --quiet $(margs llama2c) --method fp16 --format gguf --out "$tmp/il.gguf" >/dev/null 2>"$tmp/err" ||
  { echo "FAIL llama2c export: $(cat "$tmp/err")"; errors=$((errors + 1)); }
/usr/bin/python3 - "$tmp/il.gguf" "$tmp/rh.gguf" <<'PY' || errors=$((errors + 1))
import sys
raw = open(sys.argv[1], "rb").read()
key = b"awq_harness.rope_source"
i = raw.find(key)
assert i > 0 and raw.count(key) == 1, "no awq_harness.rope_source key"
v = raw.find(b"interleaved", i)
assert 0 < v - i < 48, "the key's value is not 'interleaved'"
open(sys.argv[2], "wb").write(raw[:v] + b"rotate-half" + raw[v + 11:])   # same length
PY
a=$(ppl_nll --model "$tmp/il.gguf"); b=$(ppl_nll --model "$tmp/rh.gguf")
echo "  llama2.c GGUF, interleaved rows: $a; read as rotate-half: $b"
awk -v a="$(kv ppl "$a")" -v b="$(kv ppl "$b")" 'BEGIN{d=a-b; if(d<0)d=-d; exit !(a>0 && d <= 1e-5*a)}' ||
  { echo "FAIL the two readings of a llama file differ by more than 1e-5"; errors=$((errors + 1)); }
[ "$a" != "$b" ] || echo "  (bit for bit equal as well)"

# 4. an imported GGUF quantized again
cases=$((cases + 1))
"$AH_BIN" quantize --quiet --model "$tmp/il.gguf" --method rtn --bits 4 --group 32 --format gguf \
  --out "$tmp/re.gguf" >/dev/null 2>"$tmp/err" || { echo "FAIL re-export: $(cat "$tmp/err")"; errors=$((errors + 1)); }
a=$(ppl_nll --model "$tmp/il.gguf" --method rtn --bits 4 --group 32); b=$(ppl_nll --model "$tmp/re.gguf")
[ "${a#ppl=}" != "$a" ] && [ "$a" = "$b" ] ||
  { echo "FAIL rtn on an imported GGUF: eval $a, its GGUF export $b"; errors=$((errors + 1)); }
expect_error harness-from-gguf '--format harness rewrites a safetensors or llama2.c checkpoint; .*il\.gguf is a GGUF file' -- \
  "$AH_BIN" quantize --model "$tmp/il.gguf" --method rtn --bits 4 --group 32 --out "$tmp/h2"

[ $errors -eq 0 ] || fail "$errors of $cases GGUF import check(s) failed"
echo "ok: $cases GGUF imports reproduce their runs, tokenizers and RoPE readings"
