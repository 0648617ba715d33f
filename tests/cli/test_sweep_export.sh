#!/usr/bin/env bash
# test_sweep_export.sh — a sweep's [export] step (docs/EXPERIMENTS.md "[export]", docs/EXPORT.md)
# on the bundled model, 4 calibration sequences of 64 tokens, 4 evaluation windows of 128:
#  1. fp16 + rtn W4 g32 exported as awq, gptq, compressed-tensors, gguf-q4_0 and gguf: each
#     record's export/<format> has status written, the path, bytes = the files on disk and
#     max_abs_diff 0 (every format is read back); the FP run is written by gguf only (its row
#     takes --method fp16), the others record it skipped; /summary has exports and
#     export_max_abs_diff; `eval --model EXPORT` of awq, gptq and compressed-tensors prints the
#     perplexity the run recorded, every printed digit (an AWQ run: awq, compressed-tensors);
#     so does `eval --model DIR/model.gguf` of gguf-q4_0 and gguf (GGUF import).
#     A shard (run --shard 1/2) exports into the unsharded run's directory.
#  2. a format that cannot hold a planned run (an AWQ run as gguf-q4_0, 3-bit awq, kept FP16
#     columns, fp16 and bf16 scales in one run) is one error naming the run and the format,
#     before any run: no results file, cache or export directory is written (`run`, and
#     `run --dry-run --keys`, which checks too); a split AWQ search (search --part, submit
#     --split-search) refuses an experiment with exports.
#  3. rerun into a new results file: the runs come from the run cache and their exports are
#     found complete (this run's key in their manifests) and recorded, nothing quantized; one
#     export removed is written again (a quantization pass, the run still from the cache).
#  4. an export that fails (the test-only failure point) is recorded as failed, its run's
#     results stand, the command exits non-zero; a kill while an export is swapped in leaves
#     the results file and the old export whole, and the next run completes them.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0 cases=0
EVAL="text:models/tinyprose/data/heldout.txt@0:20000"

# write_ini FILE OUTPUT MODEL SWEEP EXPORT: an experiment (SWEEP, EXPORT: section bodies).
write_ini() {
  cat >"$1" <<EOF
[experiment]
name = sx
output = $2
threads = 2
[model]
path = $3
[calibration]
data = text:models/tinyprose/data/calib.txt
samples = 4
seqlen = 64
[evaluation]
data = $EVAL
seqlen = 128
max_windows = 4
[sweep]
$4
[export]
$5
EOF
}

# check_records RESULTS WANT_STATUS: every export group against the disk (python, h5py).
check_records() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import h5py, math, os, sys
path, want = sys.argv[1], sys.argv[2]
bad = []
with h5py.File(path, "r") as f:
    for rid, g in f["runs"].items():
        if "export" not in g: bad.append("%s: no export group" % rid); continue
        names, worst = [], None
        for fmt, x in g["export"].items():
            a = dict(x.attrs)
            st = a["status"].decode() if isinstance(a["status"], bytes) else a["status"]
            if st == "skipped":
                if rid != "fp16" or fmt == "gguf": bad.append("%s %s: skipped" % (rid, fmt))
                continue
            if st != want: bad.append("%s %s: status %s, want %s" % (rid, fmt, st, want)); continue
            p = a["path"].decode() if isinstance(a["path"], bytes) else a["path"]
            size = sum(os.path.getsize(os.path.join(p, n)) for n in os.listdir(p)
                       if os.path.isfile(os.path.join(p, n)))
            if a["bytes"] != size or size == 0: bad.append("%s %s: bytes %s, disk %s" % (rid, fmt, a["bytes"], size))
            d = float(a["max_abs_diff"])
            if d != 0.0: bad.append("%s %s: max_abs_diff %r" % (rid, fmt, d))
            else: worst = 0.0
            names.append(fmt)
        ex = g.attrs.get("exports", b"")
        ex = ex.decode() if isinstance(ex, bytes) else ex
        if sorted(ex.split()) != sorted(names): bad.append("%s: exports %r, records %r" % (rid, ex, names))
        if worst is not None and g.attrs.get("export_max_abs_diff") != 0.0: bad.append("%s: export_max_abs_diff" % rid)
        if rid != "fp16" and g.attrs.get("scale_dtype") not in (b"f16", "f16"): bad.append("%s: scale_dtype %r" % (rid, g.attrs.get("scale_dtype")))
    s = f["summary"][:]
    if "exports" not in s.dtype.names or "export_max_abs_diff" not in s.dtype.names: bad.append("summary columns")
    elif not any(r["exports"] for r in s): bad.append("summary exports empty")
if bad: print("FAIL records %s: %s" % (path, bad)); sys.exit(1)
EOF
}

# attr RESULTS RUN NAME: a run attribute as text (%.6f for a real: what eval prints).
attr() {
  /usr/bin/python3 - "$@" <<'EOF'
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    v = f["runs"][sys.argv[2]].attrs[sys.argv[3]]
print("%.6f" % v if isinstance(v, float) or hasattr(v, "dtype") and v.dtype.kind == "f" else v)
EOF
}

# same_ppl RESULTS RUN FORMAT...: eval of each export prints the run's recorded perplexity.
same_ppl() {
  local res="$1" run="$2" want got; shift 2
  want=$(attr "$res" "$run" ppl)
  for fmt in "$@"; do
    cases=$((cases + 1))
    local x="${res%.h5}.exports/$run/$fmt"
    [ -f "$x/model.gguf" ] && x="$x/model.gguf"   # a GGUF export: the file (model/import_gguf)
    got=$(kv ppl "$("$AH_BIN" eval --quiet --model "$x" --data "$EVAL" \
          --seqlen 128 --max-windows 4 | tail -n 1)")
    [ -n "$want" ] && [ "$got" = "$want" ] ||
      { echo "FAIL $run as $fmt: eval of the export ppl=$got, the run recorded $want"; errors=$((errors + 1)); }
  done
}

# ---- 1. plan, run, export ------------------------------------------------------------------
mkdir -p "$tmp/a"
write_ini "$tmp/a.ini" "$tmp/a/r.h5" models/tinyprose "method = fp16, rtn
bits = 4
group_size = 32" "formats = awq, gptq, compressed-tensors, gguf-q4_0, gguf"
"$AH_BIN" run "$tmp/a.ini" >"$tmp/out" 2>"$tmp/err" ||
  fail "sweep with exports: $(tail -n 5 "$tmp/err")"
grep -q '^export rtn-w4-g32 awq: wrote ' "$tmp/err" || { echo "FAIL no progress line for the awq export"; errors=$((errors + 1)); }
check_records "$tmp/a/r.h5" written || errors=$((errors + 1))
same_ppl "$tmp/a/r.h5" rtn-w4-g32 awq gptq compressed-tensors gguf-q4_0 gguf
[ -f "$tmp/a/r.exports/fp16/gguf/model.gguf" ] || { echo "FAIL the FP run has no gguf export"; errors=$((errors + 1)); }
[ ! -e "$tmp/a/r.exports/fp16/awq" ] || { echo "FAIL the FP run was exported as awq"; errors=$((errors + 1)); }

# A shard exports where the unsharded run does (it finds the exports above complete).
"$AH_BIN" run --shard 1/2 "$tmp/a.ini" >"$tmp/out" 2>"$tmp/err" || fail "shard 1/2: $(tail -n 5 "$tmp/err")"
cases=$((cases + 1))
grep -q "^export rtn-w4-g32 awq: $tmp/a/r.exports/rtn-w4-g32/awq is complete" "$tmp/err" ||
  { echo "FAIL shard 1/2: not exported into the experiment's directory: $(grep '^export' "$tmp/err" | head -3)"; errors=$((errors + 1)); }

write_ini "$tmp/w.ini" "$tmp/w/r.h5" models/tinyprose "method = awq
bits = 4
group_size = 32
alpha = 0.5
clip = off" "formats = awq, compressed-tensors"
"$AH_BIN" run --quiet "$tmp/w.ini" >"$tmp/out" 2>"$tmp/err" || fail "AWQ sweep with exports: $(tail -n 5 "$tmp/err")"
check_records "$tmp/w/r.h5" written || errors=$((errors + 1))
same_ppl "$tmp/w/r.h5" awq-w4-g32-a0.5-noclip awq compressed-tensors

# ---- 2. refusals at plan time ----------------------------------------------------------------
# refused NAME PATTERN MODEL SWEEP EXPORT: one error line, nothing written.
refused() {
  local name="$1" pattern="$2"
  rm -rf "$tmp/b"; mkdir -p "$tmp/b"
  write_ini "$tmp/b.ini" "$tmp/b/r.h5" "$3" "$4" "$5"
  expect_error "$name" "$pattern" -- "$AH_BIN" run --quiet "$tmp/b.ini"
  expect_error "$name (--dry-run --keys)" "$pattern" -- "$AH_BIN" run --dry-run --keys "$tmp/b.ini"
  [ -z "$(ls -A "$tmp/b")" ] || { echo "FAIL $name: wrote $(ls "$tmp/b")"; errors=$((errors + 1)); }
}
refused "awq run as gguf-q4_0" "run awq-w4-g32-a0.5 cannot be exported as gguf-q4_0" models/tinyprose \
  "method = rtn, awq
bits = 4
group_size = 32
alpha = 0.5" "formats = awq, gguf-q4_0"
refused "3-bit awq" "run rtn-w3-g32 cannot be exported as awq" models/tinyprose \
  "method = rtn
bits = 3, 4
group_size = 32" "formats = awq"
refused "kept FP16 columns" "run minmax-w4-g32-keep1-act cannot be exported as gptq" models/tinyprose \
  "method = minmax
salient_pct = 1
group_size = 32" "formats = gptq"
refused "fp16 and bf16 scales" "run rtn-w4-g32: format awq stores f16 scales and compressed-tensors bf16" \
  tests/fixtures/qwen2 "method = rtn
group_size = 32" "formats = awq, compressed-tensors"

# A split AWQ search does not round scales for the formats: refused, not searched in vain.
expect_error "split search with exports" "a split AWQ search does not take an experiment with exports" \
  -- "$AH_BIN" search "$tmp/w.ini" --part 0/2
expect_error "submit --split-search with exports" "--split-search does not take an experiment with \\[export\\]" \
  -- "$AH_BIN" submit "$tmp/w.ini" --nodes 2 --split-search 2 --dry-run

# ---- 3. rerun from the cache -----------------------------------------------------------------
mkdir -p "$tmp/c"
sed "s#$tmp/a/r.h5#$tmp/c/r.h5#; s#^threads = 2#threads = 2\ncache = $tmp/a/cache#; s#^formats = .*#formats = awq, gptq, compressed-tensors, gguf-q4_0, gguf\ndir = $tmp/a/r.exports#" \
  "$tmp/a.ini" >"$tmp/c.ini"
# (an export record a killed run left in the cache, pid gone: removed by the next run)
: >"$tmp/a/cache/runs/export-2147483000-0123.h5"
"$AH_BIN" run "$tmp/c.ini" >"$tmp/out" 2>"$tmp/err" || fail "rerun: $(tail -n 5 "$tmp/err")"
cases=$((cases + 1))
[ ! -e "$tmp/a/cache/runs/export-2147483000-0123.h5" ] ||
  { echo "FAIL a killed run's export record stays in the cache"; errors=$((errors + 1)); }
if grep -q '^export rtn-w4-g32: .*block' "$tmp/err" || ! grep -q 'rtn-w4-g32 .*from the run cache' "$tmp/out" ||
   [ "$(grep -c 'is complete for this run' "$tmp/err")" != 6 ]; then
  echo "FAIL rerun: want the runs from the cache and their 6 exports kept, nothing quantized:"
  grep -E 'export|cache' "$tmp/err" "$tmp/out" | head; errors=$((errors + 1))
fi
check_records "$tmp/c/r.h5" existing || errors=$((errors + 1))
rm -rf "$tmp/a/r.exports/rtn-w4-g32/gptq" "$tmp/c/r.h5"
"$AH_BIN" run "$tmp/c.ini" >"$tmp/out" 2>"$tmp/err" || fail "rerun without one export: $(tail -n 5 "$tmp/err")"
cases=$((cases + 1))
grep -q '^export rtn-w4-g32 gptq: wrote ' "$tmp/err" && grep -q 'rtn-w4-g32 .*from the run cache' "$tmp/out" ||
  { echo "FAIL rerun without the gptq export: not written again from the cached run"; errors=$((errors + 1)); }
same_ppl "$tmp/a/r.h5" rtn-w4-g32 gptq

# ---- 4. a failed export, a killed one --------------------------------------------------------
mkdir -p "$tmp/d"
sed "s#$tmp/a/r.h5#$tmp/d/r.h5#" "$tmp/a.ini" >"$tmp/d.ini"
cases=$((cases + 1))
if AH_TEST_KILL_AT=export-fail:3 "$AH_BIN" run --quiet "$tmp/d.ini" >"$tmp/out" 2>"$tmp/err"; then
  echo "FAIL a failed export: exit 0"; errors=$((errors + 1))
fi
/usr/bin/python3 - "$tmp/d/r.h5" <<'EOF' || errors=$((errors + 1))
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    g = f["runs"]["rtn-w4-g32"]
    st = {k: v.attrs["status"] for k, v in g["export"].items()}
    ok = st.get("gptq") in (b"failed", "failed") and "test-only failure" in str(g["export"]["gptq"].attrs["error"]) \
         and g.attrs["ppl"] > 0 and st.get("awq") in (b"written", "written")
    if not ok: print("FAIL a failed export: records", st); sys.exit(1)
EOF
grep -q 'the exports of 1 of 2 runs failed' "$tmp/err" || { echo "FAIL a failed export: $(tail -n 2 "$tmp/err")"; errors=$((errors + 1)); }
before=$(md5sum "$tmp/d/r.h5" | cut -d' ' -f1)
man=$(md5sum "$tmp/d/r.exports/rtn-w4-g32/awq/manifest.json" | cut -d' ' -f1)
rm -rf "$tmp/d/r.exports/rtn-w4-g32/gptq"
cases=$((cases + 1))
# (through an inner shell, whose "Killed" notice goes to kill.err, not into the test's output)
AH_TEST_KILL_AT=export-before-swap:1 bash -c '"$@"; exit $?' _ "$AH_BIN" run --quiet "$tmp/d.ini" \
  >/dev/null 2>"$tmp/kill.err"
rc=$?
[ $rc -eq 137 ] || { echo "FAIL the export kill point: exit $rc, want 137: $(tail -n 2 "$tmp/kill.err")"; errors=$((errors + 1)); }
[ "$(md5sum "$tmp/d/r.h5" | cut -d' ' -f1)" = "$before" ] &&
[ "$(md5sum "$tmp/d/r.exports/rtn-w4-g32/awq/manifest.json" | cut -d' ' -f1)" = "$man" ] ||
  { echo "FAIL a killed export changed the results file or the kept export"; errors=$((errors + 1)); }
"$AH_BIN" run --quiet "$tmp/d.ini" >/dev/null 2>"$tmp/err" || { echo "FAIL after the kill: $(tail -n 2 "$tmp/err")"; errors=$((errors + 1)); }
/usr/bin/python3 - "$tmp/d/r.h5" <<'EOF' || errors=$((errors + 1))
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    g = f["runs"]["rtn-w4-g32"]["export"]
    st = {k: (v.attrs["status"].decode() if isinstance(v.attrs["status"], bytes) else v.attrs["status"]) for k, v in g.items()}
    if st.get("gptq") != "written" or any(s not in ("written", "existing") for s in st.values()):
        print("FAIL after the kill: statuses", st); sys.exit(1)
EOF

[ -n "${AH_VERBOSE:-}" ] && echo "$cases cases"
[ "$errors" -eq 0 ] || fail "$errors failures"
echo "sweep exports: $cases cases as expected"
