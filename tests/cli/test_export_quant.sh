#!/usr/bin/env bash
# test_export_quant.sh — `quantize --format awq|gptq|compressed-tensors` on the committed
# fixtures (docs/EXPORT.md), without the peers (they judge in `make interop`:
# test_interop_quant.sh):
#  1. import(export(run)) reproduces the run's perplexity exactly: `eval --model EXPORT` (the
#     loader dequantizes the format's tensors, model/import.c) prints the ppl of the same run
#     exported as `--format harness --scale-dtype D` (D: the format's scale dtype), for F32 and
#     F16 checkpoints, llama and Qwen2, minmax (asymmetric: gptq_v2) and rtn (symmetric: GPTQ
#     v1), 4 and 8 bits, group 32 and whole rows, GPTQ and AWQ methods;
#  2. the manifest holds export_check.max_abs_diff 0 and the format's own keys;
#  3. a format that cannot hold a run is a one-line error before any work (3-bit AWQ, a group
#     that leaves a ragged last group, kept FP16 columns, a llama2.c source, --scale-dtype
#     contradicting the format), and a damaged quantized checkpoint is a one-line error naming
#     the tensor.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
DATA="text:$FIX/text/eval.txt"
GC=(--calib "text:$FIX/text/calib.txt" --calib-samples 8 --calib-seqlen 64)
errors=0 cases=0

ppl_of() { kv ppl "$("$AH_BIN" eval --quiet --model "$1" --data "$DATA" --seqlen 64 --max-windows 8 | tail -n 1)"; }

# The bundled model (F32 llama, widths 256 and 704) or a fixture (F16 llama, BF16 Qwen2).
mdir() { if [ "$1" = tinyprose ]; then echo models/tinyprose; else echo "$FIX/$1"; fi; }

# roundtrip FORMAT SCALE_DTYPE FIXTURE METHOD ARGS...: the export's perplexity is the run's.
roundtrip() {
  local fmt="$1" sd="$2" fx="$3"; shift 3
  local out="$tmp/x-$fmt" ref="$tmp/ref" a b
  cases=$((cases + 1))
  rm -rf "$out" "$ref"
  if ! "$AH_BIN" quantize --quiet --model "$(mdir "$fx")" "$@" --format "$fmt" --out "$out" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL $fmt $fx $*: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); return
  fi
  "$AH_BIN" quantize --quiet --model "$(mdir "$fx")" "$@" --scale-dtype "$sd" --out "$ref" >/dev/null 2>"$tmp/err" ||
    { echo "FAIL $fmt $fx $*: reference quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); return; }
  grep -q '^export_check max_abs_diff=0$' "$tmp/out" ||
    { echo "FAIL $fmt $fx $*: no 'export_check max_abs_diff=0' line"; errors=$((errors + 1)); }
  a=$(ppl_of "$ref"); b=$(ppl_of "$out")
  if [ -z "$a" ] || [ "$a" != "$b" ]; then
    echo "FAIL $fmt $fx $*: run ppl=$a, imported export ppl=$b"; errors=$((errors + 1))
  fi
  /usr/bin/python3 - "$out" "$fmt" <<'EOF' || errors=$((errors + 1))
import json, sys
d, fmt = sys.argv[1], sys.argv[2]
man = json.load(open(d + "/manifest.json"))
qc = json.load(open(d + "/config.json"))["quantization_config"]
bad = []
if man["export_check"]["max_abs_diff"] != 0 or man["export_check"]["linears"] < 1: bad.append("export_check")
if man["format"] != fmt: bad.append("format")
want = {"awq": "awq", "gptq": "gptq", "compressed-tensors": "compressed-tensors"}[fmt]
if qc["quant_method"] != want: bad.append("quant_method")
if fmt == "gptq":
    sym = qc["sym"]
    if qc["checkpoint_format"] != ("gptq" if sym else "gptq_v2"): bad.append("checkpoint_format")
    if json.load(open(d + "/quantize_config.json")) != qc: bad.append("quantize_config.json")
if bad: print("FAIL %s: %s" % (d, bad)); sys.exit(1)
EOF
}

roundtrip awq f16 tinyprose --method minmax --bits 4 --group 32
roundtrip awq f16 llama-mha-f16 --method awq --bits 4 --group 32 "${GC[@]}"
roundtrip awq f16 qwen2 --method rtn --bits 4 --group 16
roundtrip gptq f16 tinyprose --method rtn --bits 4 --group 32            # symmetric: v1
roundtrip gptq f16 llama-mha-f16 --method gptq --bits 4 --group 32 "${GC[@]}"   # v2
roundtrip gptq f16 qwen2 --method minmax --bits 8 --group -1
roundtrip gptq f16 tinyprose --method gptq --bits 2 --group 16 --act-order "${GC[@]}"
roundtrip compressed-tensors f32 tinyprose --method minmax --bits 4 --group 32
roundtrip compressed-tensors f16 llama-mha-f16 --method rtn --bits 8 --group -1
roundtrip compressed-tensors bf16 qwen2 --method awq --bits 4 --group 16 "${GC[@]}"

# GGUF blocks: every block, dequantized as llama.cpp does, is the evaluated weight (checked as
# it is written: export_check). gguf-py and llama-perplexity judge them in test_interop_gguf.sh.
for c in gguf-q4_0:rtn:4 gguf-q4_1:minmax:4 gguf-q4_1:awq:4 gguf-q8_0:rtn:8; do
  IFS=: read -r fmt meth bits <<<"$c"
  cases=$((cases + 1))
  extra=(); [ "$meth" = awq ] && extra=("${GC[@]}")
  if ! "$AH_BIN" quantize --quiet --model models/tinyprose --method "$meth" --bits "$bits" --group 32 "${extra[@]}" \
      --format "$fmt" --out "$tmp/b.gguf" >"$tmp/out" 2>"$tmp/err" || ! grep -q '^export_check max_abs_diff=0$' "$tmp/out"; then
    echo "FAIL $c: $(cat "$tmp/err" "$tmp/out")"; errors=$((errors + 1))
  fi
done
expect_error q4_1-sym 'holds asymmetric codes' -- \
  "$AH_BIN" quantize --model models/tinyprose --method rtn --bits 4 --group 32 --format gguf-q4_1 --out "$tmp/e9.gguf"
expect_error q4_0-group 'groups of 32, not 4 bits, group 64' -- \
  "$AH_BIN" quantize --model models/tinyprose --method rtn --bits 4 --group 64 --format gguf-q4_0 --out "$tmp/e9.gguf"
expect_error q8_0-f16 'F16 checkpoint' -- \
  "$AH_BIN" quantize --model "$FIX/llama-mha-f16" --method rtn --bits 8 --group 32 --format gguf-q8_0 --out "$tmp/e9.gguf"
[ -e "$tmp/e9.gguf" ] && { echo "FAIL e9: output written"; errors=$((errors + 1)); }

# 3. refused before any work, one line each
M=(--model "$FIX/llama-gqa")
expect_error awq-3bit 'AutoAWQ GEMM holds 4-bit codes only' -- \
  "$AH_BIN" quantize "${M[@]}" --method minmax --bits 3 --group 32 --format awq --out "$tmp/e1"
expect_error ct-ragged 'group size 32 does not divide the 172' -- \
  "$AH_BIN" quantize "${M[@]}" --method minmax --bits 4 --group 32 --format compressed-tensors --out "$tmp/e2"
expect_error awq-out8 '172 output channels, not a multiple of 8' -- \
  "$AH_BIN" quantize "${M[@]}" --method minmax --bits 4 --group 4 --format awq --out "$tmp/e8"
expect_error gptq-kept 'kept in full precision' -- \
  "$AH_BIN" quantize "${M[@]}" --method salient --bits 4 --group 32 --salient-pct 5 --salient-by random --format gptq --out "$tmp/e3"
expect_error ct-3bit 'W4A16 or W8A16' -- \
  "$AH_BIN" quantize "${M[@]}" --method minmax --bits 3 --group 32 --format compressed-tensors --out "$tmp/e4"
expect_error awq-llama2c 'llama2.c file' -- \
  "$AH_BIN" quantize --model "$FIX/llama2c/model.bin" --tokenizer "$FIX/llama2c/tokenizer.bin" --method minmax --bits 4 --group 32 --format awq --out "$tmp/e5"
expect_error awq-scale-dtype 'contradicts' -- \
  "$AH_BIN" quantize "${M[@]}" --method minmax --bits 4 --group 32 --format awq --scale-dtype f32 --out "$tmp/e6"
expect_error imatrix-f16 'imatrix fits fp32 scales' -- \
  "$AH_BIN" quantize "${M[@]}" --method imatrix --bits 4 --group 32 "${GC[@]}" --format gptq --out "$tmp/e7"
for e in e1 e2 e3 e4 e5 e6 e7 e8; do [ -e "$tmp/$e" ] && { echo "FAIL $e: output written"; errors=$((errors + 1)); }; done

# A damaged import: qzeros of the wrong shape, and a method the importer does not read.
good="$tmp/dmg-src"
"$AH_BIN" quantize --quiet --model "$FIX/llama-mha-f16" --method minmax --bits 4 --group 32 --format awq --out "$good" >/dev/null 2>&1 ||
  { echo "FAIL damaged: quantize"; errors=$((errors + 1)); }
dmg="$tmp/dmg"; mkdir -p "$dmg"; cp "$good"/config.json "$good"/tokenizer.json "$dmg"/
/usr/bin/python3 - "$good/model.safetensors" "$dmg/model.safetensors" <<'EOF'
import json, struct, sys
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
k = "model.layers.1.mlp.down_proj.qzeros"
h[k]["shape"] = [h[k]["shape"][1], h[k]["shape"][0]]   # same bytes, transposed shape
hb = json.dumps(h).encode()
open(dst, "wb").write(struct.pack("<Q", len(hb)) + hb + raw[8 + n:])
EOF
expect_error damaged-shape "model.layers.1.mlp.down_proj.qzeros' is I32 \[" -- \
  "$AH_BIN" eval --model "$dmg" --data "$DATA" --seqlen 64
sed -i 's/"quant_method": "awq"/"quant_method": "bitnet"/' "$dmg/config.json"
expect_error unknown-method "quant_method 'bitnet'" -- \
  "$AH_BIN" eval --model "$dmg" --data "$DATA" --seqlen 64

[ "$errors" -eq 0 ] || { echo "$errors failure(s)"; exit 1; }
echo "quantized directories: $cases round trips and refusals as expected"
