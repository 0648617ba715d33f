#!/usr/bin/env bash
# test_reliability_export.sh — reliability issue 23, items 3 and 14, and lock files
# (docs/reliability.md, "Second round"), on the committed llama-gqa fixture:
#  1. `quantize --out D` over an existing export, killed at any moment, leaves D the complete
#     old export or the complete new one, never a mix: SIGKILL at the test kill points
#     (AH_TEST_KILL_AT=export-before-manifest, export-before-swap, export-after-swap), at every
#     rename, fsync, unlinkat and rmdir the quantize makes (injected by strace; skipped with a
#     note without it) and at random moments. After each kill the next quantize completes D and
#     removes the temporaries; a live process's temporary is kept; a full disk leaves D as it was.
#  2. A directory holding anything but export files is never replaced (one-line error, before
#     any work); a link to an export directory still names the new export.
#  3. Readers (eval, generate, llama2.c exports too) refuse an export whose manifest.json is
#     missing or cut, or disagrees with its files: one missing, truncated, or taken from
#     another export (the 3-bit/4-bit mix of the issue). An intact export and an export from
#     before the files list load.
#  4. The run cache and the AWQ-search cache trust an entry only when the key stored in it is
#     the one its name promises: entries swapped under each other's names (or not HDF5 at all)
#     give a warning naming the file (also with --quiet), the runs are computed again and equal
#     an uninterrupted run's, and the next run finds the repaired entries.
#  5. run and merge leave no "<results>.lock" behind.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0
bad() { echo "FAIL $*"; errors=$((errors + 1)); }
say() { [ -n "${AH_VERBOSE:-}" ] && echo "$@"; return 0; }
QB=(quantize --quiet --threads 1 --method rtn --group 32)
Q=("${QB[@]}" --model tests/fixtures/llama-gqa)
EVAL=(eval --quiet --threads 1 --data text:tests/fixtures/text/eval.txt --seqlen 64 --max-windows 1)

# ---- 1. killed quantize over an existing export -------------------------------------------------
snap() {   # DIR -> one "sha256  name" line per file ("absent" when DIR is not there)
  [ -d "$1" ] || { echo absent; return; }
  (cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -r sha256sum)
}
"$AH_BIN" "${Q[@]}" --bits 3 --out "$tmp/ref3" >/dev/null 2>"$tmp/err" || fail "quantize: $(cat "$tmp/err")"
"$AH_BIN" "${Q[@]}" --bits 4 --out "$tmp/ref4" >/dev/null 2>"$tmp/err" || fail "quantize: $(cat "$tmp/err")"
"$AH_BIN" "${Q[@]}" --bits 4 --out "$tmp/ref4b" >/dev/null 2>"$tmp/err" || fail "quantize: $(cat "$tmp/err")"
OLD=$(snap "$tmp/ref3") NEW=$(snap "$tmp/ref4")
[ "$OLD" != "$NEW" ] || fail "the 3-bit and 4-bit exports are equal"
[ "$(snap "$tmp/ref4b")" = "$NEW" ] || fail "two quantize runs gave different exports: the comparisons below need equal ones"
D=$tmp/D
reset_old() { rm -rf "$D" "$D".tmp.* "$D".old.*; cp -a "$tmp/ref3" "$D"; }
kills=0
# After a kill described by $1: D is the old or the new export (state in $state); then a
# quantize completes it and leaves no temporary.
after_kill() {
  local s left
  kills=$((kills + 1))
  s=$(snap "$D")
  if [ "$s" = "$OLD" ]; then state=old
  elif [ "$s" = "$NEW" ]; then state=new
  else
    state=mixed
    bad "$1: $D is neither the old export nor the new one:"
    diff <(echo "$OLD") <(echo "$s") | sed 's/^/    /' | head -12
  fi
  "$AH_BIN" "${Q[@]}" --bits 4 --out "$D" >/dev/null 2>"$tmp/err" || bad "$1: quantize after the kill: $(cat "$tmp/err")"
  [ "$(snap "$D")" = "$NEW" ] || bad "$1: the quantize after the kill did not leave the new export"
  left=$(ls -d "$D".tmp.* "$D".old.* 2>/dev/null)
  [ -z "$left" ] || bad "$1: temporaries remain after the next quantize: $left"
  say "kill $kills ($1): D was the $state export"
}

for stage in export-before-manifest export-before-swap export-after-swap; do
  reset_old
  AH_TEST_KILL_AT=$stage:1 "$AH_BIN" "${Q[@]}" --bits 4 --out "$D" >/dev/null 2>&1 &
  wait $! 2>/dev/null   # (no "Killed" notice from bash)
  rc=$?
  [ $rc -eq 137 ] || { bad "AH_TEST_KILL_AT=$stage: exit $rc, expected 137 (killed)"; continue; }
  t=$(ls -d "$D".tmp.* 2>/dev/null | head -1)
  [ -n "$t" ] || bad "$stage: no temporary directory left (the kill point is not inside the write)"
  if [ "$stage" = export-before-manifest ] && [ -n "$t" ]; then   # a half-written temporary
    expect_error "reader-of-temporary" "without manifest\.json" -- "$AH_BIN" "${EVAL[@]}" --model "$t" || errors=$((errors + 1))
  fi
  after_kill "$stage"
  want=old; [ "$stage" = export-after-swap ] && want=new
  [ "$state" = "$want" ] || bad "$stage: D was the $state export, expected the $want one"
done

# Every call of these syscalls in turn gets a SIGKILL (strace's fault injection): a kill at
# each step of the write, the swap and the removal of the old export.
if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
  for sc in rename renameat renameat2 fsync unlinkat rmdir; do
    n=1
    while [ $n -le 40 ]; do
      reset_old
      # (LeakSanitizer cannot run under ptrace: leaks are checked by the runs above and below)
      ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -o /dev/null -e trace="$sc" -e inject="$sc":signal=SIGKILL:when=$n \
        "$AH_BIN" "${Q[@]}" --bits 4 --out "$D" >/dev/null 2>"$tmp/err" &
      wait $! 2>/dev/null   # (strace kills itself as its tracee died: no notice from bash)
      rc=$?
      [ $rc -eq 0 ] && break   # fewer than n calls: the quantize ran to its end
      [ $rc -eq 137 ] || { bad "strace $sc #$n: exit $rc: $(tail -2 "$tmp/err")"; break; }
      after_kill "SIGKILL at $sc #$n"
      n=$((n + 1))
    done
    say "$sc: $((n - 1)) calls, each killed once"
  done
else
  echo "note: strace missing or not permitted: the kills at each syscall are skipped"
fi

# Random moments over the whole quantize.
t0=$(date +%s.%N)
"$AH_BIN" "${Q[@]}" --bits 4 --out "$tmp/timing" >/dev/null 2>&1
T=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
for i in 1 2 3 4 5 6; do
  reset_old
  delay=$(awk -v s="$RANDOM" -v t="$T" 'BEGIN { srand(s); printf "%.3f", rand() * t }')
  "$AH_BIN" "${Q[@]}" --bits 4 --out "$D" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  after_kill "random kill after ${delay}s of ${T}s"
done

# A full disk (a file-size limit below model.safetensors): the quantize fails with one line,
# D stays the old export, no temporary is left.
reset_old
lim_kb=$(( $(stat -c %s "$tmp/ref4/model.safetensors") / 1024 - 8 ))
(ulimit -f "$lim_kb"; exec "$AH_BIN" "${Q[@]}" --bits 4 --out "$D" >/dev/null 2>"$tmp/err")
rc=$?
{ [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^awq-harness: .*File too large' "$tmp/err"; } ||
  bad "ulimit -f $lim_kb: exit $rc, want 1 and one line 'File too large': $(cat "$tmp/err")"
[ "$(snap "$D")" = "$OLD" ] || bad "ulimit -f: a failed quantize changed the old export"
[ -z "$(ls -d "$D".tmp.* 2>/dev/null)" ] || bad "ulimit -f: the failed quantize left its temporary"

# Temporaries of dead processes are removed (export files only: anything else stays), a live
# process's are kept.
reset_old
sh -c 'exit 0' & dead=$!
wait $dead
mkdir "$D.tmp.$dead" "$D.old.$dead" "$D.tmp.$$"
for t in "$D.tmp.$dead" "$D.old.$dead" "$D.tmp.$$"; do cp "$tmp/ref3/model.safetensors" "$t/"; done
echo "keep" >"$D.old.$dead/notes.txt"
mkdir "$tmp/victim"   # a link named like a stale temporary is not followed
cp "$tmp/ref3/config.json" "$tmp/victim/"
sh -c 'exit 0' & dead2=$!
wait $dead2
ln -s "$tmp/victim" "$D.tmp.$dead2"
"$AH_BIN" "${Q[@]}" --bits 4 --out "$D" >/dev/null 2>"$tmp/err" || bad "quantize beside planted temporaries: $(cat "$tmp/err")"
[ ! -e "$D.tmp.$dead" ] || bad "a dead process's temporary $D.tmp.$dead was kept"
[ ! -e "$D.old.$dead/model.safetensors" ] || bad "a dead process's old export $D.old.$dead was kept"
[ "$(cat "$D.old.$dead/notes.txt" 2>/dev/null)" = keep ] || bad "a file that is no export's was removed with a stale temporary"
[ -e "$D.tmp.$$/model.safetensors" ] || bad "a live process's temporary $D.tmp.$$ was removed"
[ -e "$tmp/victim/config.json" ] || bad "a link named like a stale temporary was followed and its target emptied"
rm -rf "$D.tmp.$$" "$D.old.$dead" "$D.tmp.$dead2"

# ---- 2. a directory that is not an export is never replaced -------------------------------------
mkdir "$tmp/mine"
echo "my notes" >"$tmp/mine/notes.txt"
cp "$tmp/ref3/config.json" "$tmp/mine/"
expect_error foreign-dir "mine: holds 'notes\.txt', which is not part of an export" -- \
  "$AH_BIN" "${Q[@]}" --bits 4 --out "$tmp/mine" || errors=$((errors + 1))
[ "$(ls "$tmp/mine" | tr '\n' ' ')" = "config.json notes.txt " ] || bad "foreign-dir: the directory changed: $(ls "$tmp/mine")"
[ -z "$(ls -d "$tmp"/mine.tmp.* 2>/dev/null)" ] || bad "foreign-dir: a temporary was left"
mkdir "$tmp/src"   # --out naming the source checkpoint itself (a bare HF checkpoint)
cp tests/fixtures/llama-gqa/{config.json,model.safetensors,tokenizer.json} "$tmp/src/"
cp -a "$tmp/src" "$tmp/src.orig"
expect_error out-is-the-source "src: holds a checkpoint without manifest\.json or quantized\.safetensors" -- \
  "$AH_BIN" "${QB[@]}" --bits 4 --model "$tmp/src" --out "$tmp/src" || errors=$((errors + 1))
diff -r "$tmp/src.orig" "$tmp/src" >/dev/null || bad "out-is-the-source: the source checkpoint changed"
echo x >"$tmp/afile"
expect_error out-is-a-file "afile: exists and is not a directory" -- \
  "$AH_BIN" "${Q[@]}" --bits 4 --out "$tmp/afile" || errors=$((errors + 1))
reset_old
ln -s "$D" "$tmp/link"
"$AH_BIN" "${Q[@]}" --bits 4 --out "$tmp/link/" >/dev/null 2>"$tmp/err" || bad "quantize through a link: $(cat "$tmp/err")"
[ -L "$tmp/link" ] && [ "$(snap "$tmp/link")" = "$NEW" ] || bad "a link to the export does not name the new export"

# ---- 3. readers refuse an incomplete or mixed export --------------------------------------------
R=$tmp/r
mk() { rm -rf "$R"; cp -a "$tmp/ref4" "$R"; }
reader() {   # NAME PATTERN: eval --model $R must fail with PATTERN
  expect_error "$1" "$2" -- "$AH_BIN" "${EVAL[@]}" --model "$R" || errors=$((errors + 1))
}
mk; rm "$R/manifest.json"
reader no-manifest "r: a quantized export without manifest\.json"
expect_error generate-no-manifest "r: a quantized export without manifest\.json" -- \
  "$AH_BIN" generate --model "$R" --prompt "Once" --max-new 2 || errors=$((errors + 1))
mk; head -c 300 "$tmp/ref4/manifest.json" >"$R/manifest.json"
reader cut-manifest "r/manifest\.json: invalid JSON at line"
mk; rm "$R/quantized.safetensors"
reader missing-file "r: quantized\.safetensors is missing, the manifest lists it"
mk; truncate -s -100 "$R/model.safetensors"
reader truncated-file "r: model\.safetensors has [0-9]+ bytes, the manifest says [0-9]+"
mk; cp "$tmp/ref3/model.safetensors" "$R/"
reader mixed-3bit-weights "r: model\.safetensors is not the file the manifest describes"
mk; cp "$tmp/ref3/manifest.json" "$R/"
reader mixed-3bit-manifest "r: model\.safetensors is not the file the manifest describes"
mk; cp "$tmp/ref3/config.json" "$R/awq.safetensors"
reader unlisted-file "r: awq\.safetensors is not listed in manifest\.json"
"$AH_BIN" "${QB[@]}" --bits 4 --model tests/fixtures/llama2c/model.bin --tokenizer tests/fixtures/llama2c/tokenizer.bin \
  --out "$tmp/l2c" >/dev/null 2>"$tmp/err" || bad "llama2.c quantize: $(cat "$tmp/err")"
"$AH_BIN" "${EVAL[@]}" --model "$tmp/l2c/model.bin" --tokenizer "$tmp/l2c/tokenizer.bin" >/dev/null 2>"$tmp/err" ||
  bad "an intact llama2.c export is refused: $(cat "$tmp/err")"
rm "$tmp/l2c/manifest.json"
expect_error llama2c-no-manifest "l2c: a quantized export without manifest\.json" -- \
  "$AH_BIN" "${EVAL[@]}" --model "$tmp/l2c/model.bin" --tokenizer "$tmp/l2c/tokenizer.bin" || errors=$((errors + 1))
mk
"$AH_BIN" "${EVAL[@]}" --model "$R" >/dev/null 2>"$tmp/err" || bad "an intact export is refused: $(cat "$tmp/err")"
# An export written before manifests listed their files loads as it is.
$PY -c "
import json, sys
p = sys.argv[1]; m = json.load(open(p))
m.pop('files', None); m.pop('export_format', None)
json.dump(m, open(p, 'w'), indent=2)" "$R/manifest.json"
"$AH_BIN" "${EVAL[@]}" --model "$R" >/dev/null 2>"$tmp/err" || bad "an export without a files list is refused: $(cat "$tmp/err")"

# ---- 4. cache entries are checked against their stored key -------------------------------------
sweep_ini "$tmp/res.h5" "$tmp/cache" >"$tmp/sweep.ini"
sweep() {   # OUTPUT: runs the sweep into a fresh results file; stderr in $tmp/sweep.err
  "$AH_BIN" run "$tmp/sweep.ini" --quiet --output "$1" >/dev/null 2>"$tmp/sweep.err" ||
    bad "run $1: $(tail -3 "$tmp/sweep.err")"
}
# "id key ppl" per run of a results file
runs_of() {
  $PY -c "
import h5py, sys
with h5py.File(sys.argv[1], 'r') as f:
    for rid in sorted(f['runs']):
        a = f['runs'][rid].attrs
        print(rid, a['key'], repr(float(a['ppl'])))" "$1"
}
swap() { mv "$1" "$tmp/swap" && mv "$2" "$1" && mv "$tmp/swap" "$2"; }
sweep "$tmp/r1.h5"
REF=$(runs_of "$tmp/r1.h5")
kfp=$(echo "$REF" | awk '$1 == "fp16" { print $2 }')
krtn=$(echo "$REF" | awk '$1 ~ /^rtn/ && $1 ~ /w4/ { print $2 }')
[ -n "$kfp" ] && [ -n "$krtn" ] || fail "run ids not as expected: $REF"
swap "$tmp/cache/runs/$kfp.h5" "$tmp/cache/runs/$krtn.h5"   # each under the other's name
sweep "$tmp/r2.h5"
grep -q "^warning: $tmp/cache/runs/$kfp.h5: run cache entry holds key ${krtn:0:12}\.\.\., not ${kfp:0:12}\.\.\." "$tmp/sweep.err" ||
  bad "run cache: no warning naming the misnamed fp16 entry: $(cat "$tmp/sweep.err")"
grep -q "^warning: $tmp/cache/runs/$krtn.h5: run cache entry holds key" "$tmp/sweep.err" ||
  bad "run cache: no warning naming the misnamed rtn entry"
[ "$(runs_of "$tmp/r2.h5")" = "$REF" ] || bad "run cache: misnamed entries were committed:
$(diff <(echo "$REF") <(runs_of "$tmp/r2.h5"))"
sweep "$tmp/r3.h5"   # the entries were replaced by the recomputed runs
[ ! -s "$tmp/sweep.err" ] || bad "run cache: warnings after the entries were recomputed: $(cat "$tmp/sweep.err")"
[ "$(runs_of "$tmp/r3.h5")" = "$REF" ] || bad "run cache: the recomputed entries differ"
echo junk >"$tmp/cache/runs/$kfp.h5"   # an entry that is no HDF5 file: recomputed too
sweep "$tmp/r3b.h5"
grep -q "^warning: $tmp/cache/runs/$kfp.h5: cannot open as an HDF5 file.*a run cache entry without a readable key" \
  "$tmp/sweep.err" || bad "run cache: no warning naming the damaged entry: $(cat "$tmp/sweep.err")"
[ "$(runs_of "$tmp/r3b.h5")" = "$REF" ] || bad "run cache: the run after a damaged entry differs"
set -- "$tmp"/cache/awq/*.h5
[ $# -eq 2 ] || fail "expected 2 AWQ cache entries, found $#"
rm -f "$tmp"/cache/runs/*.h5   # so that the AWQ runs read their (misnamed) searches
swap "$1" "$2"
sweep "$tmp/r4.h5"
[ "$(grep -c "AWQ cache entry holds key .*; searching again" "$tmp/sweep.err")" -eq 2 ] ||
  bad "AWQ cache: want a warning for each misnamed entry: $(cat "$tmp/sweep.err")"
grep -q "warning: $1: AWQ cache entry holds key" "$tmp/sweep.err" || bad "AWQ cache: the warning does not name $1"
[ "$(runs_of "$tmp/r4.h5")" = "$REF" ] || bad "AWQ cache: a misnamed search was applied:
$(diff <(echo "$REF") <(runs_of "$tmp/r4.h5"))"

# ---- 5. no lock file left ------------------------------------------------------------------------
"$AH_BIN" merge "$tmp/merged.h5" "$tmp/r1.h5" "$tmp/r2.h5" >/dev/null 2>"$tmp/err" || bad "merge: $(cat "$tmp/err")"
locks=$(ls "$tmp"/*.lock 2>/dev/null)
[ -z "$locks" ] || bad "lock files left after run and merge: $locks"

say "$kills kills of quantize, each leaving the old or the new export"
[ $errors -eq 0 ] || fail "$errors problems"
