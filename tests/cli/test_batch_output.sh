#!/usr/bin/env bash
# test_batch_output.sh — output for batch jobs (issue 24 item 3):
#  1. OpenMP waits passively unless the user asked otherwise (main.c sets OMP_WAIT_POLICY and
#     starts itself again; `eval` reports the policy it ran with);
#  2. a `run` whose stderr is a file (a batch log) prints progress lines with the block, the
#     elapsed time and an ETA, also while one block takes longer than the interval (a
#     heartbeat; AH_PROGRESS_SECONDS shortens the 30 s default here), and a line at every
#     run's end.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
[ -d "$tmp" ] || fail "no temporary directory"
FIX=tests/fixtures
errors=0
err() { echo "FAIL: $*"; errors=$((errors + 1)); }

# 1. the wait policy
kv=$(env -u OMP_WAIT_POLICY "$AH_BIN" eval --model "$FIX/llama-gqa" --data "text:$FIX/text/eval.txt" --quiet 2>&1)
[[ "$kv" == *" omp_wait=passive"* ]] || err "default wait policy not passive: $kv"
kv=$(OMP_WAIT_POLICY=active "$AH_BIN" eval --model "$FIX/llama-gqa" --data "text:$FIX/text/eval.txt" --quiet 2>&1)
[[ "$kv" == *" omp_wait=active"* ]] || err "the user's OMP_WAIT_POLICY=active was not kept: $kv"

# 2. progress in a batch log
# The bundled model's AWQ search (a block takes 0.1 s or more even on a fast machine) against
# a heartbeat every 20 ms.
M=models/tinyprose
cat >"$tmp/x.ini" <<EOF
[experiment]
name = batch
output = $tmp/p.h5
cache = $tmp/cache
[model]
path = $M
[calibration]
data = text:$M/data/calib.txt
samples = 8
seqlen = 128
[evaluation]
data = text:$M/data/heldout.txt@0:20000
seqlen = 256
max_windows = 2
[sweep]
method = fp16, awq
bits = 3
group_size = 64
grid = 5
EOF
AH_PROGRESS_SECONDS=0.02 "$AH_BIN" run "$tmp/x.ini" >"$tmp/out" 2>"$tmp/log" || err "run failed: $(tail -3 "$tmp/log")"
grep -Eq '^run: +[0-9]+% awq-w3-g64-search5 block [0-9]+/6 \([0-9]+s elapsed, ETA ' "$tmp/log" ||
  err "no block progress line in the log: $(head -20 "$tmp/log")"
# a heartbeat: the same stage printed again as time passes inside one block of the AWQ search
repeats=$(grep -E '^run: ' "$tmp/log" | sed 's/ (.*//' | sort | uniq -d | wc -l)
[ "$repeats" -ge 1 ] || err "no line repeated while a block ran (heartbeat): $(grep '^run: ' "$tmp/log")"
for id in fp16 awq-w3-g64-search5; do
  grep -Eq "^\[[0-9]/2\] $id: ppl [0-9.]+ " "$tmp/log" || err "no end-of-run line for $id"
done
# no terminal control characters in a log
if grep -q $'\r' "$tmp/log"; then err "carriage returns (a terminal bar) in the batch log"; fi
[ $errors -eq 0 ] || fail "$errors batch-output check(s) failed"
echo "OpenMP waits passively unless asked; batch logs get block lines, a heartbeat and run ends"
