#!/usr/bin/env bash
# test_reliability_ini.sh — experiment INI files that must end fast with exactly one line,
# `awq-harness: FILE:LINE: ...` (docs/reliability.md, "Second round (issue 23)"):
#   names     [plot.NAME], [sweep.NAME] and the experiment name must be plain (no '/', no
#             leading '.'): they become file names under `plot --out`;
#   includes  at most 256 include reads and 16 MiB of expanded text (a 16^7 include bomb);
#   FIFOs     an INI or an include that is a FIFO is refused, not opened for a blocking read;
#   plans     a plan over 100000 runs is refused with its size, quickly (ids are hashed);
#   keys      a key set twice in a section is an error naming both places, across includes;
#   ids       two different runs with one id (alpha 0.5 and 0.5000001) are refused.
# Every command runs under `timeout`, so a regression that hangs fails here instead of
# hanging the suite. AH_VERBOSE=1 prints each message.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
errors=0
cases=0

HEAD='[model]
path = m
[evaluation]
data = text:e.txt
[calibration]
data = text:c.txt'
ini() { printf '%s\n' "$2" >"$tmp/$1"; }              # NAME TEXT: writes $tmp/NAME
dry() { timeout "${TO:-20}" "$AH_BIN" run "$tmp/$1" --dry-run; }
bad() { expect_error "$1" "$2" -- dry "$3"; }          # CASE PATTERN FILE
good() {                                              # CASE FILE PATTERN: plans, stdout matches
  cases=$((cases + 1))
  if ! dry "$2" >"$tmp/out" 2>"$tmp/err" || ! grep -Eq -- "$3" "$tmp/out"; then
    echo "FAIL $1: $(cat "$tmp/err") $(head -1 "$tmp/out")"
    errors=$((errors + 1))
  elif [ -n "${AH_VERBOSE:-}" ]; then echo "ok   $1: $(head -1 "$tmp/out")"; fi
}

# ---- 1. plain names ----------------------------------------------------------------------
ini plot-dotdot.ini "$HEAD
[plot.../../escaped]
kind = ppl_vs_alpha"
bad plot-name-dotdot "plot-dotdot.ini:8: \[plot\.\.\./\.\./escaped\]: the name '\.\./\.\./escaped' may hold only" plot-dotdot.ini
ini plot-slash.ini "$HEAD
[plot.a/b]
kind = ppl_vs_alpha"
bad plot-name-slash "plot-slash.ini:8: \[plot\.a/b\]: the name 'a/b'" plot-slash.ini
ini sweep-name.ini "$HEAD
[sweep./tmp/x]
method = rtn"
bad sweep-name-slash "sweep-name.ini:8: \[sweep\./tmp/x\]: the name '/tmp/x'" sweep-name.ini
ini exp-dotdot.ini "[experiment]
name = ..
$HEAD"
bad experiment-name-dotdot "exp-dotdot.ini:2: name: '\.\.' may hold only" exp-dotdot.ini
ini ...ini "$HEAD"
bad experiment-name-from-file "\.\.\.ini: the experiment name '\.\.' \(the file name without \.ini\) is not plain" ...ini

# ---- 8. include caps ---------------------------------------------------------------------
# 7 files of 16 includes each: 16^7 reads without the cap.
ini l7.ini "[experiment]
; a leaf: no keys (they would be duplicates)"
for k in 6 5 4 3 2 1 0; do
  : >"$tmp/l$k.ini"
  for _ in $(seq 16); do echo "include = l$((k + 1)).ini" >>"$tmp/l$k.ini"; done
done
bad include-bomb "l[0-9]\.ini:[0-9]+: include: more than 256 includes in one experiment" l0.ini
# 17 MiB of comments in one include: over the 16 MiB of expanded text.
awk 'BEGIN { s = sprintf("; %98s", ""); for (i = 0; i < 178258; i++) print s }' >"$tmp/big.ini"
ini inc-big.ini "$HEAD
include = big.ini"
bad include-over-16mib "inc-big.ini:7: include: cannot read '.*big\.ini': [0-9]+ bytes would bring the experiment text over the 16 MiB limit" inc-big.ini
cp "$tmp/big.ini" "$tmp/big-main.ini"
bad ini-over-16mib "big-main.ini: cannot read: [0-9]+ bytes would bring the experiment text over the 16 MiB limit" big-main.ini

# ---- 9. FIFOs (TO=10: a blocking open is the bug) -------------------------------------------
mkfifo "$tmp/fifo.ini" "$tmp/inc.fifo"
TO=10 bad ini-fifo "fifo.ini: cannot read: a FIFO, not a regular file" fifo.ini
ini inc-fifo.ini "$HEAD
include = inc.fifo"
TO=10 bad include-fifo "inc-fifo.ini:7: include: cannot read '.*inc\.fifo': a FIFO, not a regular file" inc-fifo.ini
ini inc-dev.ini "$HEAD
include = /dev/zero"
TO=10 bad include-device "inc-dev.ini:7: include: cannot read '/dev/zero': a character device, not a regular file" inc-dev.ini

# ---- 10. plan size -------------------------------------------------------------------------
# awq: 7 bits x 64 groups x 64 alphas x 2 clip x 2 propagate = 114688 runs.
AXES='method = awq
bits = 2:8:1
group_size = 1:64:1
alpha = 0:0.63:0.01
clip = on, off'
ini plan-114k.ini "$HEAD
[sweep]
$AXES
propagate = fp, quantized"
bad plan-over-limit "plan-114k\.ini: the sweep plans 114688 runs; the limit is 100000" plan-114k.ini
ini plan-huge.ini "$HEAD
[sweep]
$AXES
propagate = fp, quantized
salient_pct = 0:63:1"
bad plan-huge "plan-huge\.ini: the sweep plans more than 1000000 runs; the limit is 100000" plan-huge.ini
ini plan-57k.ini "$HEAD
[sweep]
$AXES"
good plan-57344 plan-57k.ini ": 57344 planned runs"

# ---- 11. duplicate keys ------------------------------------------------------------------
ini dup-output.ini "[experiment]
output = a.h5
output = b.h5
$HEAD"
bad dup-output "dup-output.ini:3: output given twice in \[experiment\] \(first at .*dup-output.ini:2\)" dup-output.ini
ini dup-model.ini "$HEAD
[sweep]
method = rtn
[model]
path = other"
bad dup-model-section "dup-model.ini:10: path given twice in \[model\] \(first at .*dup-model.ini:2\)" dup-model.ini
ini block.ini "[calibration]
samples = 64"
ini dup-include.ini "$HEAD
include = block.ini
samples = 32"
bad dup-after-include "dup-include.ini:8: samples given twice in \[calibration\] \(first at .*block.ini:2\)" dup-include.ini
ini dup-include2.ini "$HEAD
samples = 32
include = block.ini"
bad dup-in-include "block.ini:2: samples given twice in \[calibration\] \(first at .*dup-include2.ini:7\)" dup-include2.ini
ini dup-plot.ini "$HEAD
[plot.a]
kind = ppl_vs_alpha
[plot.b]
kind = ppl_vs_group
[plot.a]
kind = ppl_vs_bits"
bad dup-plot-key "dup-plot.ini:12: kind given twice in \[plot\.a\] \(first at .*dup-plot.ini:8\)" dup-plot.ini
ini dup-indented.ini "[experiment]
description = one
  two
$HEAD"
bad indented-non-sweep "dup-indented.ini:3: description in \[experiment\] continues on an indented line" dup-indented.ini
ini header-again.ini "[experiment]
seed = 1
$HEAD
[experiment]
threads = 1
[sweep]
method = rtn
bits = 3,
  4"
good header-again header-again.ini ": 2 planned runs"

# ---- 12. run-id collisions ---------------------------------------------------------------
ini id-alpha.ini "$HEAD
[sweep]
method = awq
alpha = 0.5, 0.5000001"
bad id-collision-alpha "id-alpha.ini:9: alpha: 0\.5 and 0\.5000001 give the same run id 'awq-w4-g128-a0\.5'" id-alpha.ini
ini id-damp.ini "$HEAD
[sweep]
method = gptq
damp = 0.1, 0.10000001"
bad id-collision-damp "id-damp.ini:9: damp: 0\.1 and 0\.10000001 give the same run id 'gptq-w4-g128-damp0\.1'" id-damp.ini
ini id-named.ini "$HEAD
[sweep]
method = awq
[sweep.a]
alpha = 0.25
[sweep.b]
alpha = 0.250000001"
bad id-collision-named "id-named.ini:12: alpha: 0\.25 and 0\.250000001 give the same run id 'awq-w4-g128-a0\.25'" id-named.ini
ini id-same.ini "$HEAD
[sweep]
method = rtn
bits = 4, 4"
good id-identical-merged id-same.ini ": 1 planned runs"

[ "$errors" -eq 0 ] || fail "$errors of $cases cases failed"
echo "test_reliability_ini: $cases cases passed"
