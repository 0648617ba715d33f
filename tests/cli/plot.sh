#!/usr/bin/env bash
# plot.sh — `awq-harness plot` on a small results file built here from the committed llama-gqa
# fixture (11 runs: fp16; rtn at 3/4 bits x group 16/per-row; awq searched and at alpha 0 and 1;
# minmax keeping 0 / 1% salient channels by activation and at random), so every standard kind
# has what it needs:
#  1. every standard plot and the declared [plot.NAME] sections are drawn as real 1000x650 PNGs
#     under --out DIR/<experiment>/; a file lacking data skips a plot with one line saying why;
#  2. --only NAME draws one; --format svg and pdf write SVG and PDF; the default folder is
#     plots/<experiment>/ under the working directory;
#     ppl_vs_bits, ppl_vs_group and ppl_vs_alpha draw 95% error bars (yerrorlines) from
#     ppl_lo / ppl_hi, not kld_vs_bits, nor a file recorded without them;
#  3. no temporary script or data file is left anywhere, and the results file is unchanged;
#  4. errors: gnuplot missing from PATH (exit 1, one clear line, nothing written), a gnuplot that
#     fails (exit 1, the figure removed), not a results file, an unknown --only name, a bad
#     declared plot.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
command -v gnuplot >/dev/null || skip "gnuplot not installed (make deps installs gnuplot-nox)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ROOT=$(pwd)
BIN="$ROOT/${AH_BIN#./}"
case "$AH_BIN" in /*) BIN="$AH_BIN" ;; esac
errors=0
err() { echo "FAIL: $*"; errors=$((errors + 1)); }

# ---- a results file from three small sweeps into one file (the first one's INI is stored)
cat >"$tmp/common.ini" <<EOF
[experiment]
name = plot-test
output = $tmp/r.h5
cache = $tmp/cache
seed = 1
[model]
path = $ROOT/tests/fixtures/llama-gqa
[calibration]
data = text:$ROOT/tests/fixtures/text/calib.txt
samples = 8
seqlen = 64
[evaluation]
data = text:$ROOT/tests/fixtures/text/eval.txt
seqlen = 64
EOF
cat >"$tmp/a.ini" <<EOF
include = common.ini
[sweep]
method = fp16, rtn
bits = 3, 4
group_size = 16, row
[plot.mine]
kind = line
x = bits
y = ppl
series = method
filter = group_size=16
title = RTN at group 16
[plot.lossl]
kind = loss_vs_alpha
layers = 0, 1
EOF
cat >"$tmp/b.ini" <<EOF
include = common.ini
[sweep]
method = awq
bits = 3
group_size = 16
alpha = search, 0, 1
EOF
cat >"$tmp/c.ini" <<EOF
include = common.ini
[sweep]
method = minmax
bits = 3
group_size = 16
salient_pct = 0, 1
salient_by = activation, random
EOF
for x in a b c; do
  "$AH_BIN" run "$tmp/$x.ini" --quiet >"$tmp/run.out" 2>&1 || fail "run $x.ini failed: $(tail -5 "$tmp/run.out")"
done
R="$tmp/r.h5"
sum0=$(sha256sum <"$R")
ls -A "$tmp" >"$tmp/.before"

is_png() {   # FILE W H: PNG signature, IHDR width and height
  $PY - "$@" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], 'rb').read(24)
ok = len(b) == 24 and b[:8] == b'\x89PNG\r\n\x1a\n' and b[12:16] == b'IHDR'
ok = ok and struct.unpack('>II', b[16:24]) == (int(sys.argv[2]), int(sys.argv[3]))
sys.exit(0 if ok else 1)
PYEOF
}

# ---- 1. everything
out="$tmp/figs"
"$BIN" plot "$R" --out "$out" >"$tmp/o" 2>"$tmp/e"; rc=$?
[ $rc -eq 0 ] || err "plot exit $rc: $(cat "$tmp/e")"
for name in ppl_vs_alpha ppl_vs_group ppl_vs_bits kld_vs_bits salient_bars layer_alpha scale_hist loss_vs_alpha mine lossl; do
  f="$out/plot-test/$name.png"
  if [ ! -s "$f" ]; then err "$name.png not written: $(cat "$tmp/o" "$tmp/e")"; continue; fi
  is_png "$f" 1000 650 || err "$name.png is not a 1000x650 PNG: $(file "$f")"
  grep -q "^drawn  *$name  *$f\$" "$tmp/o" || err "no 'drawn $name' line: $(cat "$tmp/o")"
done
n=$(find "$out" -type f | wc -l)
[ "$n" -eq 10 ] || err "expected 10 files under $out, found $n: $(find "$out" -type f)"
[ ! -s "$tmp/e" ] || err "unexpected messages on stderr: $(cat "$tmp/e")"
grep -q "10 drawn, 5 skipped, 0 failed" "$tmp/o" || err "summary line: $(tail -1 "$tmp/o")"

# a file lacking data: the fixture-sweep subset with no AWQ and no salient runs skips those kinds
$PY - "$R" "$tmp/small.h5" <<'PYEOF' || fail "could not build the reduced file"
import sys, h5py, shutil
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], 'r+') as f:
    keep = [r for r in f['summary'][:] if r['method'] in (b'fp16', b'rtn')]
    del f['summary']
    f.create_dataset('summary', data=keep, maxshape=(None,), chunks=True)
PYEOF
"$BIN" plot "$tmp/small.h5" --out "$tmp/small" >"$tmp/o" 2>"$tmp/e" || err "plot small.h5 failed: $(cat "$tmp/e")"
for name in ppl_vs_alpha salient_bars layer_alpha scale_hist loss_vs_alpha lossl; do
  [ "$(grep -c "^skipped  *$name  *[a-z]" "$tmp/o")" -eq 1 ] || err "small.h5: no one-line skip of $name: $(cat "$tmp/o")"
  [ ! -e "$tmp/small/plot-test/$name.png" ] || err "small.h5: $name drawn without data"
done
grep -q "^skipped  *ppl_vs_alpha  *no AWQ runs with a fixed alpha" "$tmp/o" || err "ppl_vs_alpha skip reason: $(cat "$tmp/o")"
for name in ppl_vs_group ppl_vs_bits kld_vs_bits mine; do
  [ -s "$tmp/small/plot-test/$name.png" ] || err "small.h5: $name not drawn: $(cat "$tmp/o")"
done

# error bars (issue 19): the perplexity kinds draw each point's 95% interval (ppl_lo, ppl_hi)
# with yerrorlines; kld_vs_bits has none; a file recorded before the intervals draws plain lines.
# A gnuplot that records its script, then runs the real one.
mkdir "$tmp/gpbin"
printf '#!/bin/sh\ntee "%s/gp.script" | %s "$@"\n' "$tmp" "$(command -v gnuplot)" >"$tmp/gpbin/gnuplot"
chmod +x "$tmp/gpbin/gnuplot"
$PY - "$R" "$tmp/old.h5" <<'PYEOF' || fail "could not build the file without intervals"
import sys, h5py, shutil, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], 'r+') as f:
    s = f['summary'][:]
    names = [n for n in s.dtype.names if n not in ('ppl_se', 'ppl_lo', 'ppl_hi')]
    old = np.empty(len(s), dtype=[(n, s.dtype[n]) for n in names])
    for n in names: old[n] = s[n]
    del f['summary']
    f.create_dataset('summary', data=old, maxshape=(None,), chunks=True)
PYEOF
for case in "ppl_vs_bits $R 1" "ppl_vs_group $R 1" "ppl_vs_alpha $R 1" "kld_vs_bits $R 0" "ppl_vs_bits $tmp/old.h5 0"; do
  set -- $case
  env PATH="$tmp/gpbin:$PATH" "$BIN" plot "$2" --only "$1" --out "$tmp/eb" >"$tmp/o" 2>&1 || err "error bars, $1 of $2: $(cat "$tmp/o")"
  got=$(grep -c 'with yerrorlines' "$tmp/gp.script")
  if [ "$3" = 1 ]; then [ "$got" -gt 0 ] || err "$1: no error bars: $(grep '^ *\$s' "$tmp/gp.script")"
  else [ "$got" -eq 0 ] || err "$1 of $2: error bars without intervals"; fi
done
rm -rf "$tmp/eb" "$tmp/gpbin" "$tmp/gp.script" "$tmp/old.h5"

# ---- 2. --only, formats, default folder
"$BIN" plot "$R" --only salient_bars --format svg --out "$tmp/svg" >"$tmp/o" 2>&1 || err "--format svg failed: $(cat "$tmp/o")"
f="$tmp/svg/plot-test/salient_bars.svg"
[ -s "$f" ] && grep -q "<svg" "$f" || err "no SVG written: $(cat "$tmp/o")"
[ "$(find "$tmp/svg" -type f | wc -l)" -eq 1 ] || err "--only drew more than one figure"
"$BIN" plot "$R" --only layer_alpha --format pdf --out "$tmp/pdf" >"$tmp/o" 2>&1 || err "--format pdf failed: $(cat "$tmp/o")"
f="$tmp/pdf/plot-test/layer_alpha.pdf"
[ -s "$f" ] && [ "$(head -c 5 "$f")" = "%PDF-" ] || err "no PDF written: $(cat "$tmp/o")"
mkdir "$tmp/cwd"
(cd "$tmp/cwd" && "$BIN" plot "$R" --only mine >"$tmp/o" 2>&1) || err "default folder: $(cat "$tmp/o")"
is_png "$tmp/cwd/plots/plot-test/mine.png" 1000 650 || err "default folder: no plots/plot-test/mine.png: $(cat "$tmp/o")"

# ---- 3. nothing else written, results untouched
[ "$(sha256sum <"$R")" = "$sum0" ] || err "the results file changed"
ls -A "$tmp" >"$tmp/.after"
extra=$(comm -13 "$tmp/.before" "$tmp/.after" | grep -Ev '^(figs|small|small\.h5|svg|pdf|cwd|o|e|\.before|\.after)$')
[ -z "$extra" ] || err "unexpected files beside the results: $extra"
[ "$(cd "$tmp/cwd" && find . | sort | tr '\n' ' ')" = ". ./plots ./plots/plot-test ./plots/plot-test/mine.png " ] \
  || err "default folder: unexpected files: $(cd "$tmp/cwd" && find .)"

# ---- 4. errors
# gnuplot missing: a PATH without it; one line, exit 1, nothing written, the results untouched
rc2=0; env PATH=/nonexistent "$BIN" plot "$R" --out "$tmp/nogp2" >"$tmp/o" 2>"$tmp/e" || rc2=$?
[ $rc2 -eq 1 ] || err "gnuplot missing: exit $rc2 (want 1)"
[ "$(cat "$tmp/e")" = "awq-harness: gnuplot not found on PATH: install gnuplot-nox (make deps)" ] \
  || err "gnuplot missing: message: $(cat "$tmp/e")"
[ ! -e "$tmp/nogp2" ] || err "gnuplot missing: the output folder was created"
[ "$(sha256sum <"$R")" = "$sum0" ] || err "gnuplot missing: the results file changed"
# a gnuplot that fails: exit 1, its figure removed, the others still tried
mkdir "$tmp/fakebin"
printf '#!/bin/sh\ncat >/dev/null\necho "fake gnuplot failure" >&2\nexit 3\n' >"$tmp/fakebin/gnuplot"
chmod +x "$tmp/fakebin/gnuplot"
rc=0; env PATH="$tmp/fakebin:/usr/bin:/bin" "$BIN" plot "$R" --out "$tmp/bad" >"$tmp/o" 2>"$tmp/e" || rc=$?
[ $rc -eq 1 ] || err "failing gnuplot: exit $rc (want 1)"
grep -q "plot ppl_vs_bits: .*gnuplot failed (exit status 3" "$tmp/e" || err "failing gnuplot: message: $(cat "$tmp/e")"
grep -q "0 drawn, 5 skipped, 10 failed" "$tmp/o" || err "failing gnuplot: summary: $(tail -1 "$tmp/o")"
[ -z "$(find "$tmp/bad" -type f 2>/dev/null)" ] || err "failing gnuplot: partial figures left: $(find "$tmp/bad" -type f)"
# not a results file; an unknown name; a bad declared plot
rc=0; "$BIN" plot "$ROOT/tests/fixtures/text/eval.txt" --out "$tmp/x" >"$tmp/o" 2>"$tmp/e" || rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/e")" -eq 1 ] && grep -q "eval.txt: cannot open as an HDF5 file" "$tmp/e" \
  || err "text file: exit $rc: $(cat "$tmp/e")"
$PY -c "import h5py; h5py.File('$tmp/other.h5', 'w')['x'] = [1.0]"
rc=0; "$BIN" plot "$tmp/other.h5" --out "$tmp/x" >"$tmp/o" 2>"$tmp/e" || rc=$?
[ $rc -eq 1 ] && grep -q "not an awq-harness results file" "$tmp/e" || err "other HDF5: exit $rc: $(cat "$tmp/e")"
rc=0; "$BIN" plot "$R" --only nosuch --out "$tmp/x" >"$tmp/o" 2>"$tmp/e" || rc=$?
[ $rc -eq 1 ] && grep -q "no plot named 'nosuch' (.*ppl_vs_alpha.*mine, lossl)" "$tmp/e" || err "--only nosuch: exit $rc: $(cat "$tmp/e")"
rc=0; "$BIN" plot "$R" --format gif >"$tmp/o" 2>"$tmp/e" || rc=$?
[ $rc -eq 2 ] && grep -q "expected png, svg or pdf" "$tmp/e" || err "--format gif: exit $rc: $(cat "$tmp/e")"
$PY - "$R" "$tmp/decl.h5" <<'PYEOF' || fail "could not build decl.h5"
import sys, h5py, shutil
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], 'r+') as f:
    f.attrs['experiment_ini'] = f.attrs['experiment_ini'] + '\n[plot.bad]\nkind = pie\n[plot.badcol]\nkind = line\nx = bits\ny = nosuch\n'
PYEOF
rc=0; "$BIN" plot "$tmp/decl.h5" --out "$tmp/decl" >"$tmp/o" 2>"$tmp/e" || rc=$?
[ $rc -eq 1 ] || err "bad declared plots: exit $rc (want 1)"
grep -q "plot bad: \[plot.bad\] kind: unknown 'pie'" "$tmp/e" || err "bad kind: $(cat "$tmp/e")"
grep -q "plot badcol: \[plot.badcol\] y: no summary column 'nosuch'" "$tmp/e" || err "bad column: $(cat "$tmp/e")"
[ -s "$tmp/decl/plot-test/ppl_vs_bits.png" ] || err "bad declared plots stopped the good ones"

[ $errors -eq 0 ] || fail "$errors plot check(s) failed"
echo "plot: 9 figures as 1000x650 PNGs, SVG and PDF, skips with reasons, no temporaries, errors as expected"
