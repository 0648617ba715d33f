#!/usr/bin/env bash
# bench/run.sh — what `make bench` runs. The benchmark suite is not built yet (issue 8);
# for now it times FP evaluation of stories260K and the AWQ search (bench/awq_search.sh)
# when ../shared/data is present.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${AH_SHARED_DATA:-../shared/data}"
[ -f "$SHARED/stories260K/stories260K.bin" ] || { echo "bench: $SHARED/stories260K absent"; exit 0; }
text=$(mktemp); trap 'rm -f "$text"' EXIT
head -c 40000 "$SHARED/tinystories/tinystories_val.txt" >"$text"
for t in 1 2; do
  printf 'threads=%d  ' "$t"
  ./awq-harness eval --quiet --threads "$t" --model "$SHARED/stories260K/stories260K.bin" \
    --tokenizer "$SHARED/stories260K/tok512.bin" --data "text:$text" | tail -n 1
done
bash bench/awq_search.sh
