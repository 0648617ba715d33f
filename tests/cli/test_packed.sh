#!/usr/bin/env bash
# test_packed.sh — the quantized model run from its packed codes (packed/, issue 22), end to end:
#  1. eval --packed equals the fake-quant fp32 eval within 1e-5 relative perplexity on the
#     bundled F32 model (minmax 4-bit g32, rtn 3-bit per-row, minmax 2-bit g64, 8-bit g128),
#     through the tiled GEMM path, the whole-linear one (windows of 256) and
#     (AH_PACKED_PATH=gemv) through the GEMV kernels;
#  2. an export (quantize --format harness) evaluated with --packed from its quantized.safetensors
#     equals the export's fake-quant model.safetensors within 1e-5;
#  3. generate: the key/value-cached generation gives the same greedy tokens as the recomputing
#     one (FP and quantized), the packed quantized model the same tokens as the fake-quant one,
#     an export generates packed by default (--no-packed: fake-quant) with the same text;
#  4. --stats prints the key=value line with its fields; --packed without codes is one error;
#  5. bench-generate reports its key=value line (one warm-up by default, --warmup 0 none) and
#     refuses a run beyond the context;
#  6. a zero point out of range in quantized.safetensors is one error naming the tensor.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
M=models/tinyprose; D=$M/data
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0
ev() { "$AH_BIN" eval --model "$1" --data "text:$D/heldout.txt" --seqlen 128 --max-windows 6 --quiet --threads 2 "${@:2}" | tail -n 1; }

# 1. in-process quantization: codes against fake-quant
for q in "minmax 4 32" "rtn 3 row" "minmax 2 64" "minmax 8 128"; do
  set -- $q
  a=$(ev $M --method $1 --bits $2 --group $3) || fail "eval $q failed"
  b=$(ev $M --method $1 --bits $2 --group $3 --packed) || fail "eval --packed $q failed"
  pa=$(kv ppl "$a"); pb=$(kv ppl "$b")
  [ "$(kv packed "$b")" = 1 ] || fail "eval --packed does not say packed=1: $b"
  rel_close "$pb" "$pa" 1e-5 || { echo "FAIL $q: packed ppl $pb vs fake-quant $pa"; errors=$((errors + 1)); }
  [ -n "${AH_VERBOSE:-}" ] && echo "$q: fake $pa packed $pb"
done

# ... through the GEMV kernels too (the path of decoding), forced for every product
a=$(ev $M --method minmax --bits 4 --group 32 --max-windows 2) || fail "eval failed"
b=$(AH_PACKED_PATH=gemv ev $M --method minmax --bits 4 --group 32 --max-windows 2 --packed) || fail "eval --packed (gemv) failed"
rel_close "$(kv ppl "$b")" "$(kv ppl "$a")" 1e-5 || { echo "FAIL gemv: packed ppl $(kv ppl "$b") vs fake-quant $(kv ppl "$a")"; errors=$((errors + 1)); }
[ -n "${AH_VERBOSE:-}" ] && echo "gemv path: fake $(kv ppl "$a") packed $(kv ppl "$b")"
# ... and through the whole-linear GEMM of windows of 256 rows and more (PACKED_WHOLE_ROWS)
a=$(ev $M --method minmax --bits 4 --group 32 --seqlen 256 --max-windows 2) || fail "eval failed"
b=$(ev $M --method minmax --bits 4 --group 32 --seqlen 256 --max-windows 2 --packed) || fail "eval --packed (256 rows) failed"
rel_close "$(kv ppl "$b")" "$(kv ppl "$a")" 1e-5 || { echo "FAIL whole-linear GEMM: packed ppl $(kv ppl "$b") vs fake-quant $(kv ppl "$a")"; errors=$((errors + 1)); }

# 2. an export's codes
"$AH_BIN" quantize --model $M --method minmax --bits 4 --group 32 --out "$tmp/x" --threads 2 >/dev/null 2>&1 \
  || fail "quantize --format harness failed"
a=$(ev "$tmp/x") || fail "eval of the export failed"
b=$(ev "$tmp/x" --packed) || fail "eval --packed of the export failed"
rel_close "$(kv ppl "$b")" "$(kv ppl "$a")" 1e-5 || fail "export: packed ppl $(kv ppl "$b") vs model.safetensors $(kv ppl "$a")"
wb=$(kv weight_bytes "$b"); [ "$wb" -gt 0 ] || fail "no weight_bytes: $b"

# 3. generation
gen() { "$AH_BIN" generate --model "$1" --prompt "The old man" --max-new 40 --threads 2 "${@:2}" 2>/dev/null; }
text() { sed -n '/^===/,$p' | grep -v '^stats\|^model=' ; }
r=$(gen $M --recompute | text); k=$(gen $M | text)
[ -n "$k" ] && [ "$r" = "$k" ] || fail "FP: cached generation differs from the recomputing one:
$r
---
$k"
r=$(gen $M --method minmax --bits 3 --group 32 --recompute | text)
k=$(gen $M --method minmax --bits 3 --group 32 | text)
p=$(gen $M --method minmax --bits 3 --group 32 --packed | text)
[ "$r" = "$k" ] || fail "minmax w3: cached generation differs from the recomputing one"
[ "$(printf '%s\n' "$p" | sed 's/ packed ===/ ===/')" = "$k" ] || fail "minmax w3: packed generation differs from fake-quant:
$p
---
$k"
e1=$(gen "$tmp/x" --stats); e2=$(gen "$tmp/x" --no-packed | text)
printf '%s\n' "$e1" | grep -q '^=== packed w4 g32 ===' || fail "an export does not generate packed by default: $e1"
[ "$(printf '%s\n' "$e1" | text | tail -n +2)" = "$(printf '%s\n' "$e2" | tail -n +2)" ] \
  || fail "export: packed text differs from the fake-quant one"

# 4. --stats
line=$(printf '%s\n' "$e1" | grep '^model=') || fail "--stats: no key=value line: $e1"
for k in prefill_tok_per_s decode_tok_per_s latency_median_ms latency_p90_ms peak_rss_mb weight_bytes kv_bytes; do
  v=$(kv $k "$line"); [ -n "$v" ] || fail "--stats: no $k in: $line"
done
[ "$(kv packed "$line")" = 1 ] && [ "$(kv decode_tokens "$line")" = 39 ] || fail "--stats: $line"
# the packed weights are what the codes + scales + zeros + norms take: below 1/6 of the fp32 blocks
fp=$(gen $M --stats | grep '^model='); fw=$(kv weight_bytes "$fp"); pw=$(kv weight_bytes "$line")
[ $((pw * 6)) -lt "$fw" ] || fail "packed weights $pw bytes vs fp32 $fw"
expect_error packed-no-codes "--packed: .* holds no quantized.safetensors" -- \
  "$AH_BIN" generate --model $M --prompt x --max-new 2 --packed
expect_error eval-packed-no-codes "--packed: .* holds no quantized.safetensors" -- \
  "$AH_BIN" eval --model $M --data "text:$D/heldout.txt" --max-windows 1 --packed --quiet
# 5. bench-generate: runs (one warm-up by default, --warmup 0 none), reports, refuses a prompt +
#    generation beyond the context
bg=$("$AH_BIN" bench-generate --model $M --method minmax --bits 4 --group 32 --packed --prompt-tokens 8 \
     --gen-tokens 8 --reps 2 --threads 2 2>/dev/null | tail -n 1) || fail "bench-generate failed"
[ "$(kv packed "$bg")" = 1 ] && [ "$(kv bits "$bg")" = 4 ] && [ "$(kv warmup "$bg")" = 1 ] || fail "bench-generate: $bg"
bg0=$("$AH_BIN" bench-generate --model $M --prompt-tokens 8 --gen-tokens 4 --reps 1 --warmup 0 --threads 2 \
      2>/dev/null | tail -n 1) || fail "bench-generate --warmup 0 failed"
[ "$(kv warmup "$bg0")" = 0 ] && [ "$(kv reps "$bg0")" = 1 ] || fail "bench-generate --warmup 0: $bg0"
awk -v d="$(kv decode_tok_per_s "$bg")" -v b="$(kv bytes_per_token "$bg")" -v w="$(kv weight_bytes "$bg")" \
  'BEGIN{exit !(d > 0 && b > w && w > 0)}' || fail "bench-generate numbers: $bg"
expect_error bench-too-long "--prompt-tokens 500 \+ --gen-tokens 100 exceed the model's context \(512\)" -- \
  "$AH_BIN" bench-generate --model $M --prompt-tokens 500 --gen-tokens 100
# 6. a hostile quantized.safetensors: a zero point above the bit width, in place (same size)
cp -r "$tmp/x" "$tmp/bad"
/usr/bin/python3 - "$tmp/bad/quantized.safetensors" <<'PY' || fail "could not corrupt the export"
import json, struct, sys
f = open(sys.argv[1], "r+b"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
name = sorted(k for k in h if k.endswith(".zeros"))[0]
f.seek(8 + n + h[name]["data_offsets"][0]); f.write(b"\xff")
print(name, file=sys.stderr)
PY
expect_error packed-bad-zero "quantized.safetensors: '.*\.zeros' element 0 is 255, above 4 bits" -- \
  "$AH_BIN" eval --model "$tmp/bad" --data "text:$D/heldout.txt" --max-windows 1 --packed --quiet
[ $errors -eq 0 ] || fail "$errors case(s) failed"
echo "packed: ok"
