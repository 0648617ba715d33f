#!/usr/bin/env bash
# bench/run.sh — what `make bench` runs (never part of `make test`): every benchmark script,
# then one table of every row they wrote, each with the command that reproduces it.
#
#   bench/throughput.sh   GEMM peak, eval tokens/s vs PyTorch, AWQ search, thread scaling
#                         (run when present)
#   bench/memory.sh       peak resident memory of eval and quantize vs the layer-major bound
#   bench/peers.sh        the harness against llama.cpp (llama-perplexity) and the AWQ peers
#   bench/generate.sh     generation: decode / prefill tokens/s and memory of fp32 and packed
#                         INT8 / INT4 / INT3 against llama-bench, and the copy bandwidth
#
# A script writes bench/results/NAME.csv in the common format (bench/README.md):
#   date,machine,benchmark,metric,value,unit,reference,ratio,command
# and may print its own details. BENCH_ONLY=memory (or throughput) runs one script.
# Benchmarks measure and print; they never fail on a number.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
# Until bench/throughput.sh exists, the older AWQ search timing stands in for it.
scripts="throughput memory peers generate"
[ -f bench/throughput.sh ] || scripts="awq_search memory peers generate"
for name in $scripts; do
  script="bench/$name.sh"
  [ -f "$script" ] || continue
  [ -n "${BENCH_ONLY:-}" ] && [ "$BENCH_ONLY" != "$name" ] && continue
  echo "== bench/$name.sh"
  bash "$script" || { echo "bench: $script exited with $?"; status=1; }
done

# The summary: rows of today's runs from every CSV in the common format.
today=$(date -u +%F)
echo
echo "== bench summary ($today; bench/results/*.csv)"
printf '%-44s %14s %14s %7s  %s\n' benchmark value reference ratio command
for csv in bench/results/*.csv; do
  [ -f "$csv" ] || continue
  head -n 1 "$csv" | grep -q '^date,machine,benchmark,metric,value,unit,reference,ratio,command' || continue
  # Fields: only the command (quoted, last) may hold commas; the others have none.
  awk -F, -v d="$today" 'NR > 1 && $1 == d {
      cmd = $0; for (k = 0; k < 8; k++) cmd = substr(cmd, index(cmd, ",") + 1)
      gsub(/^"|"$/, "", cmd)
      printf "%-44s %10s %-3s %10s %-3s %7s  %s\n", $3, $5, $6, $7, ($7 == "" ? "" : $6), $8, cmd
    }' "$csv"
done
exit $status
