#!/usr/bin/env bash
# test_memory.sh — the layer-major memory contract (issue 8) on a real shape: a synthetic
# OPT-1.3B checkpoint cut to its first 2 blocks (`synth --layers 2`, F16, 414 MB on disk; the
# bound is one block, so 2 blocks show what carries over from one block to the next):
#  1. `quantize --method awq` (1 x 128 calibration tokens, as bench/memory.sh) peaks within
#     1.3x of the layer-major bound (tools/layer-major-bound);
#  2. `eval` of one 2048-token window peaks within 1.3x of its bound.
# The issue's target is 1.25x and bench/memory.sh measures against it (quantize 1.19-1.21x,
# eval 0.49x here); this test keeps 0.05x of room for what differs between machines (the
# libraries' resident pages, the kernel's page-cache folios), and fails on the regressions it
# is for: an export beside the block (it was 2.0x), a leak per block, a whole-linear scratch.
# Peak = the kernel's ru_maxrss as the harness prints it (peak_rss_mb). Skipped under the
# sanitizer build (ASan's shadow memory and quarantine are not the harness's).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
case "$AH_BIN" in *asan*) skip "peak memory is not measured under AddressSanitizer";; esac
cfg=configs/models/opt-1.3b.config.json
[ -f "$cfg" ] || fail "$cfg missing"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
avail_mb=$(df -Pm "$tmp" | awk 'NR == 2 {print $4}')
[ "${avail_mb:-0}" -gt 1500 ] || skip "$tmp has ${avail_mb} MB free, the synthetic checkpoint needs 1.5 GB"
errors=0

"$AH_BIN" synth --quiet --config "$cfg" --dtype f16 --layers 2 --out "$tmp/m" >/dev/null || fail "synth failed"
# The model's dimensions as the bound wants them (C H G D F V), from its config.json
dims=$(/usr/bin/python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); H = c["num_attention_heads"]
print(c["hidden_size"], H, c.get("num_key_value_heads", H), c["hidden_size"] // H, c["ffn_dim"], c["vocab_size"])' "$cfg") ||
  fail "cannot read the dimensions of $cfg"
P=$(nproc); [ "$P" -gt 2 ] && P=2   # threads: the machine's cores, at most 2
check() {   # name peak_mib bound_bytes
  local ratio; ratio=$(awk -v p="$2" -v b="$3" 'BEGIN {printf "%.3f", p * 1048576 / b}')
  if awk -v r="$ratio" 'BEGIN {exit !(r <= 1.30)}'; then
    echo "ok   $1: peak $2 MiB = ${ratio}x the bound ($(awk -v b="$3" 'BEGIN {printf "%.0f", b / 1048576}') MiB)"
  else
    echo "FAIL $1: peak $2 MiB = ${ratio}x the layer-major bound ($(awk -v b="$3" 'BEGIN {printf "%.0f", b / 1048576}') MiB), want <= 1.3x"
    errors=$((errors + 1))
  fi
}

line=$("$AH_BIN" quantize --quiet --model "$tmp/m" --method awq --bits 4 --group 128 \
         --calib "ids:$tmp/m/ids.txt" --calib-samples 1 --calib-seqlen 128 --grid 2 --clip off \
         --threads "$P" --out "$tmp/q" | tail -n 1) || fail "quantize failed"
[ -f "$tmp/q/model.safetensors" ] && [ -f "$tmp/q/quantized.safetensors" ] || fail "quantize wrote no checkpoint"
check "quantize awq" "$(kv peak_rss_mb "$line")" "$(tools/layer-major-bound opt $dims 128 "$P" 128 128 0)"

line=$("$AH_BIN" eval --quiet --model "$tmp/m" --data "ids:$tmp/m/ids.txt" --seqlen 2048 \
         --max-windows 1 --threads "$P" | tail -n 1) || fail "eval failed"
check "eval 1 x 2048" "$(kv peak_rss_mb "$line")" "$(tools/layer-major-bound opt $dims 2048 "$P" 2048 0 1)"

[ "$errors" -eq 0 ] || fail "$errors peak(s) above 1.3x the layer-major bound"
