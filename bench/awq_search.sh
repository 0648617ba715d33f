#!/usr/bin/env bash
# bench/awq_search.sh — AWQ search time on stories260K (INT3 g32, search rule, clip on) with 1
# and 2 threads, from the awq_seconds field of `eval`'s key=value line (the time spent in the
# scale search, folding and clipping, not the evaluation). Measures; never fails on time.
# AWQ_SAMPLES (default 32) calibration sequences of 512 tokens for the losses.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${AH_SHARED_DATA:-../shared/data}"
M="$SHARED/stories260K/stories260K.bin"
[ -f "$M" ] || { echo "awq_search: $M absent, skipped"; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c 20000 "$SHARED/tinystories/tinystories_val.txt" >"$tmp/eval.txt"
tail -c 300000 "$SHARED/tinystories/tinystories_val.txt" >"$tmp/calib.txt"
mkdir -p bench/results
out=bench/results/awq_search.csv
echo "date,threads,awq_samples,awq_seconds,ppl" >"$out"
for t in 1 2; do
  line=$(./awq-harness eval --quiet --threads "$t" --model "$M" --tokenizer "$SHARED/stories260K/tok512.bin" \
         --data "text:$tmp/eval.txt" --method awq --bits 3 --group 32 --calib "text:$tmp/calib.txt" \
         --awq-samples "${AWQ_SAMPLES:-32}" | tail -n 1)
  secs=$(printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^awq_seconds=//p')
  ppl=$(printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^ppl=//p')
  printf 'AWQ search, %d thread(s): %s s (ppl %s)   # ./awq-harness eval --threads %d ... --method awq --awq-samples %s\n' \
    "$t" "$secs" "$ppl" "$t" "${AWQ_SAMPLES:-32}"
  echo "$(date -u +%F),$t,${AWQ_SAMPLES:-32},$secs,$ppl" >>"$out"
done
echo "written: $out"
