#!/usr/bin/env bash
# test_reliability_store.sh — results files that lie, links, FIFOs and damaged tables never make
# `run`, `merge`, `plot` or `report` write outside their folders, drop runs, hang, or quote the
# content of a file a results file names (docs/reliability.md, "Second round (issue 23)"):
#  1. a stored [plot.NAME] or experiment name that is not plain (`..`, `/`) is refused by plot
#     and report with one line naming the results file; nothing is written outside --out, also
#     when the figure folder falls back to a results file's own odd name;
#  2. `merge OUT ...` with an existing OUT keeps OUT's runs (the README's shard recipe run twice
#     holds every run); an OUT that is not a results file is refused and left as it was;
#  4. a results path that is a symbolic link stays a link and its target gets the runs; the
#     lock is the target's (a writer holding it stops a `run` through the link); a dangling
#     link and a file with two hard links are refused;
#  9. a FIFO as results file (run, report, plot, merge input and output), as published-numbers
#     file (named on the command line or by the results file), and at a figure's path: one
#     error line, no hang (each command under `timeout 10`);
# 13. a /summary deleted, replaced or edited is rebuilt by `run` even when every run is
#     complete, and an intact one is left alone (same inode);
# 16c. a published file that is not a published-numbers table (a secret, a binary file), or an
#     `include` line in the stored INI, never has its content quoted in an error.
# Every refused path gets no .lock file beside it; the test leaves nothing behind.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
PY=/usr/bin/python3
{ [ -x "$AH_BIN" ] && $PY -c "import h5py"; } 2>/dev/null || fail "needs $AH_BIN (make) and python3-h5py (make deps)"
command -v gnuplot >/dev/null || skip "gnuplot is needed for the plot cases"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ROOT=$(pwd)
BIN=$(cd "$(dirname "$AH_BIN")" && pwd)/$(basename "$AH_BIN")   # cases run in other folders
errors=0
T() { timeout 10 "$BIN" "$@"; }   # a hang fails the case (exit 124) instead of the suite
check() { "$@" || { echo "FAIL: ${CASE:-?}: $*"; errors=$((errors + 1)); }; }
nolock() { check test ! -e "$1.lock"; }

# A 2-run sweep (fp16, rtn) of the llama-gqa fixture, 2 windows: about 0.1 s.
sweep_ini() {   # OUTPUT [METHODS] -> INI text
  printf '%s\n' "[experiment]" "name = rel" "output = $1" "cache = $tmp/cache" "threads = 1" \
    "[model]" "path = $ROOT/tests/fixtures/llama-gqa" "[evaluation]" "seqlen = 64" "max_windows = 2" \
    "data = text:$ROOT/tests/fixtures/text/eval.txt" "[sweep]" "method = ${2:-fp16, rtn}" "bits = 4" \
    "group_size = 32" "[plot.esc]" "kind = line" "x = bits" "y = ppl"
}
runs_in() { $PY -c "import h5py,sys; print(len(h5py.File(sys.argv[1],'r')['runs']))" "$1"; }
# h5py edits of a results file: attribute ATTR set to VALUE, or a python expression on the INI.
set_attr() { $PY -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f.attrs[sys.argv[2]]=sys.argv[3]" "$@"; }
edit_ini() {   # FILE PYTHON-EXPR-ON-s
  $PY -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); s=f.attrs['experiment_ini']; f.attrs['experiment_ini']=$2" "$1"
}
sweep_ini "$tmp/base.h5" >"$tmp/base.ini"
"$BIN" run "$tmp/base.ini" --quiet >/dev/null 2>"$tmp/err" || fail "base run: $(cat "$tmp/err")"

# ---- 1. names that are not plain ------------------------------------------------------------
mkdir -p "$tmp/w/a"
in_w() { (cd "$tmp/w/a" && timeout 10 "$BIN" "$@"); }   # plot from a folder below the files
cp "$tmp/base.h5" "$tmp/w/plotname.h5"
edit_ini "$tmp/w/plotname.h5" "s.replace('[plot.esc]', '[plot.../../../victim]')"
expect_error plot-name-escapes 'plotname\.h5: the stored experiment INI declares \[plot\.\.\./\.\./\.\./victim\], not a plain name' \
  -- in_w plot ../plotname.h5 --out OUT
expect_error report-plot-name 'plotname\.h5: .*not a plain name' -- in_w report ../plotname.h5
cp "$tmp/base.h5" "$tmp/w/expname.h5"
set_attr "$tmp/w/expname.h5" experiment "esc/../../.."
expect_error plot-experiment-escapes "expname\.h5: the stored experiment name 'esc/\.\./\.\./\.\.' is not a plain name" \
  -- in_w plot ../expname.h5 --out OUT
expect_error report-experiment-name 'expname\.h5: .*not a plain name' -- in_w report ../expname.h5
# No experiment name: the folder is named after the results file, "...h5" (".." before).
cp "$tmp/base.h5" "$tmp/w/...h5"
set_attr "$tmp/w/...h5" experiment ""
CASE=outside-out
check in_w plot ../...h5 --out OUT --only esc >/dev/null 2>&1
check test -z "$(find "$tmp" -name '*.png' -not -path "$tmp/w/a/OUT/*")"
check test -n "$(find "$tmp/w/a/OUT" -name 'esc.png')"

# ---- 2. merge into an existing OUT -----------------------------------------------------------
sweep_ini "$tmp/mm.h5" minmax >"$tmp/mm.ini"
"$BIN" run "$tmp/mm.ini" --quiet >/dev/null 2>&1 || fail "minmax run failed"
cp "$tmp/base.h5" "$tmp/out.h5"
CASE=merge-keeps-out
check "$BIN" merge "$tmp/out.h5" "$tmp/mm.h5" >/dev/null
check test "$(runs_in "$tmp/out.h5")" = 3
printf 'not results\n' >"$tmp/notes.txt"
expect_error merge-into-non-results 'notes\.txt: exists and is not an HDF5 results file' -- T merge "$tmp/notes.txt" "$tmp/mm.h5"
CASE=merge-into-non-results
check grep -qx 'not results' "$tmp/notes.txt"
nolock "$tmp/notes.txt"
# The README recipe, twice, after the sweep grew: results/X.h5 holds the first version's 2 runs
# (fp16, rtn w4), the shards the new 3-bit runs; the merge must hold all 4.
mkdir -p "$tmp/rd/results"
sweep_ini "$tmp/rd/results/X.h5" >"$tmp/rd/X.ini"
(cd "$tmp/rd" && "$BIN" run X.ini --quiet >/dev/null 2>&1) || fail "unsharded run failed"
sweep_ini "$tmp/rd/results/X.h5" "rtn, minmax" | sed 's/^bits = 4/bits = 3/' >"$tmp/rd/X.ini"
for s in 0 1; do (cd "$tmp/rd" && "$BIN" run X.ini --quiet --shard "$s/2" >/dev/null 2>&1) || fail "shard $s failed"; done
CASE=readme-recipe
for again in 1 2; do
  check sh -c "cd '$tmp/rd' && '$BIN' merge results/X.h5 results/X.shard-*-of-2.h5 >/dev/null"
  check test "$(runs_in "$tmp/rd/results/X.h5")" = 4
done

# ---- 4. links --------------------------------------------------------------------------------
mkdir -p "$tmp/real"
cp "$tmp/mm.h5" "$tmp/real/target.h5"
ln -s "$tmp/real/target.h5" "$tmp/link.h5"
sweep_ini "$tmp/link.h5" >"$tmp/link.ini"
CASE=run-through-symlink
check "$BIN" run "$tmp/link.ini" --quiet >/dev/null 2>&1
check test -L "$tmp/link.h5"
check test "$(runs_in "$tmp/real/target.h5")" = 3
nolock "$tmp/link.h5"
# The lock is the target's: a writer holding it stops a run through the link.
expect_error symlink-lock-shared 'another awq-harness process is writing .*real/target\.h5' \
  -- flock "$tmp/real/target.h5.lock" timeout 10 "$BIN" run "$tmp/link.ini" --quiet
cp "$tmp/base.h5" "$tmp/real/hard.h5"
ln "$tmp/real/hard.h5" "$tmp/hard2.h5"
sweep_ini "$tmp/hard2.h5" >"$tmp/hard.ini"
expect_error hard-link-refused 'hard2\.h5: has 2 hard links' -- T run "$tmp/hard.ini" --quiet
CASE=hard-link-refused
nolock "$tmp/hard2.h5"
ln -s "$tmp/real/missing.h5" "$tmp/dangling.h5"
sweep_ini "$tmp/dangling.h5" >"$tmp/dangling.ini"
expect_error dangling-link-refused 'dangling\.h5: is a symbolic link to a missing file' -- T run "$tmp/dangling.ini" --quiet
CASE=dangling-link-refused
nolock "$tmp/dangling.h5"
check test -L "$tmp/dangling.h5"
cp "$tmp/base.h5" "$tmp/real/mtarget.h5"
ln -s "$tmp/real/mtarget.h5" "$tmp/mlink.h5"
CASE=merge-through-symlink
check "$BIN" merge "$tmp/mlink.h5" "$tmp/mm.h5" >/dev/null
check test -L "$tmp/mlink.h5"
check test "$(runs_in "$tmp/real/mtarget.h5")" = 3

# ---- 9. FIFOs --------------------------------------------------------------------------------
mkfifo "$tmp/fifo.h5" "$tmp/pub.fifo"
expect_error fifo-report 'fifo\.h5: not a regular file \(a FIFO\)' -- T report "$tmp/fifo.h5"
expect_error fifo-plot 'fifo\.h5: not a regular file \(a FIFO\)' -- T plot "$tmp/fifo.h5" --out "$tmp/fo"
expect_error fifo-merge-input 'fifo\.h5: not a regular file \(a FIFO\)' -- T merge "$tmp/fm.h5" "$tmp/base.h5" "$tmp/fifo.h5"
expect_error fifo-merge-output 'fifo\.h5: not a regular file \(a FIFO\)' -- T merge "$tmp/fifo.h5" "$tmp/base.h5"
sweep_ini "$tmp/fifo.h5" >"$tmp/fifo.ini"
expect_error fifo-run-output 'fifo\.h5: not a regular file \(a FIFO\)' -- T run "$tmp/fifo.ini" --quiet
CASE=fifo-run-output
nolock "$tmp/fifo.h5"
expect_error fifo-published-option 'pub\.fifo: not a regular file \(a FIFO\)' -- T report "$tmp/base.h5" --published "$tmp/pub.fifo"
cp "$tmp/base.h5" "$tmp/pubfifo.h5"
edit_ini "$tmp/pubfifo.h5" "s.replace('threads = 1', 'threads = 1\npublished = $tmp/pub.fifo')"
expect_error fifo-published-stored 'pubfifo\.h5: \[experiment\] published: published numbers: .*pub\.fifo: not a regular file \(a FIFO\)' -- T report "$tmp/pubfifo.h5"
mkdir -p "$tmp/fig/rel"
mkfifo "$tmp/fig/rel/esc.png"
expect_error fifo-figure 'esc\.png: a FIFO; not replaced' -- T plot "$tmp/base.h5" --out "$tmp/fig" --only esc

# ---- 13. a damaged /summary ------------------------------------------------------------------
damage() {   # NAME PYTHON-STATEMENTS-ON-f: damages a copy of base.h5, runs, checks the repair
  CASE=summary-$1
  cp "$tmp/base.h5" "$tmp/d.h5"
  $PY -c "import h5py, numpy as np; f=h5py.File('$tmp/d.h5','r+'); $2" || fail "$1: h5py edit failed"
  sweep_ini "$tmp/d.h5" >"$tmp/d.ini"
  check "$BIN" run "$tmp/d.ini" --quiet >/dev/null 2>&1
  check sh -c "'$BIN' report '$tmp/d.h5' --format csv --digits 4 >'$tmp/d.csv' 2>/dev/null"
  "$BIN" report "$tmp/base.h5" --format csv --digits 4 >"$tmp/b.csv" 2>/dev/null
  check cmp -s "$tmp/d.csv" "$tmp/b.csv"
}
damage deleted "del f['summary']"
damage replaced "del f['summary']; f['summary'] = np.arange(7)"
damage edited "s = f['summary'][:]; s['ppl'][0] = 1.0; f['summary'][:] = s"
damage row-dropped "s = f['summary'][:]; f['summary'].resize((1,)); f['summary'][:] = s[:1]"
CASE=summary-intact-untouched
ino=$(stat -c %i "$tmp/base.h5")
check "$BIN" run "$tmp/base.ini" --quiet >/dev/null 2>&1
check test "$(stat -c %i "$tmp/base.h5")" = "$ino"

# ---- 16c. never quote another file ------------------------------------------------------------
printf 'S3CRET-first-line:with,commas\nS3CRET-second\n' >"$tmp/secret.txt"
expect_error published-secret-option 'secret\.txt:1: not a published-numbers file' -- T report "$tmp/base.h5" --published "$tmp/secret.txt"
CASE=published-secret-option; check sh -c "! grep -q S3CRET '$tmp/err'"
cp "$tmp/base.h5" "$tmp/pubsecret.h5"
edit_ini "$tmp/pubsecret.h5" "s.replace('threads = 1', 'threads = 1\npublished = $tmp/secret.txt')"
expect_error published-secret-stored 'pubsecret\.h5: \[experiment\] published: .*secret\.txt:1: not a published-numbers file' -- T report "$tmp/pubsecret.h5"
CASE=published-secret-stored; check sh -c "! grep -q S3CRET '$tmp/err'"
printf 'run,value,source\n\000S3CRET\n' >"$tmp/bin.csv"
expect_error published-binary 'bin\.csv: not a text file of published numbers' -- T report "$tmp/base.h5" --published "$tmp/bin.csv"
printf 'run,value,source\nfp16,S3CRET,x\n' >"$tmp/val.csv"
expect_error published-bad-value 'val\.csv:2: the value field is not a finite number' -- T report "$tmp/base.h5" --published "$tmp/val.csv"
CASE=published-bad-value; check sh -c "! grep -q S3CRET '$tmp/err'"
# An include in the stored INI is not followed (the stored INI is self-contained).
cp "$tmp/base.h5" "$tmp/inc.h5"
edit_ini "$tmp/inc.h5" "s + 'include = $tmp/secret.txt\n'"
CASE=stored-include
check sh -c "timeout 10 '$BIN' plot '$tmp/inc.h5' --out '$tmp/incout' --only esc >/dev/null 2>'$tmp/err'"
check sh -c "! grep -q S3CRET '$tmp/err'"

CASE=readers-lock-nothing   # plot and report only read: no lock file beside what they read
check test -z "$(find "$tmp/w" -name '*.lock')"
[ "$errors" -eq 0 ] || fail "$errors checks failed"
echo "results-file reliability: ${cases:-0} error cases and the repair, link and merge checks passed"
