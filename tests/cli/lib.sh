# lib.sh — sourced by tests/cli/*.sh. Not a test itself (run.sh skips files named lib.sh).
set -u
AH_BIN="${AH_BIN:-./awq-harness}"
SHARED="${AH_SHARED_DATA:-../shared/data}"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
# kv KEY LINE: the value of KEY in a "k=v k=v" line
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
# rel_close A B TOL: exit 0 when |A-B| <= TOL*|B|
rel_close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN{d=a-b; if(d<0)d=-d; m=b<0?-b:b; exit !(d<=t*m)}'; }
# fixture_model_args NAME: the --model (and, for the llama2.c fixture, --tokenizer) arguments of
# a committed fixture under tests/fixtures/.
fixture_model_args() {
  if [ "$1" = llama2c ]; then echo "--model tests/fixtures/llama2c/model.bin --tokenizer tests/fixtures/llama2c/tokenizer.bin"
  else echo "--model tests/fixtures/$1"; fi
}

# expect_error NAME PATTERN -- COMMAND...: exit 1 or 2, exactly one stderr line, that line
# starts with "awq-harness: " and matches PATTERN (grep -E). Uses the caller's $tmp (scratch
# files), counts failures in $errors and cases in $cases.
expect_error() {
  local name="$1" pattern="$2"; shift 3
  cases=$((${cases:-0} + 1))
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
    echo "FAIL $name: exit $rc (want 1 or 2)"; sed 's/^/    /' "$tmp/err" | head -20; errors=$((${errors:-0} + 1)); return
  fi
  if [ "$lines" -ne 1 ] || ! grep -q '^awq-harness: ' "$tmp/err"; then
    echo "FAIL $name: want one 'awq-harness: ...' line on stderr, got $lines:"
    sed 's/^/    /' "$tmp/err" | head -20; errors=$((${errors:-0} + 1)); return
  fi
  if ! grep -Eq -- "$pattern" "$tmp/err"; then
    echo "FAIL $name: message does not match /$pattern/: $(cat "$tmp/err")"; errors=$((${errors:-0} + 1)); return
  fi
  [ -n "${AH_VERBOSE:-}" ] && echo "ok   $name: $(cat "$tmp/err")"
  return 0
}

# sweep_ini OUTPUT CACHE: the INI text of a 5-run sweep of the llama-gqa fixture (fp16, rtn and
# awq at 3 and 4 bits, 4 windows) writing OUTPUT with its caches in CACHE (test_crash_safety,
# test_reliability_export). threads = 1: an OpenMP team on a loaded machine mostly waits.
sweep_ini() {
  fixture_experiment crash-sweep "$1" "$2" 4
  cat <<EOF
max_windows = 4
[experiment]
seed = 3
threads = 1
[sweep]
method = fp16, rtn, awq
bits = 3, 4
group_size = 32
grid = 5
EOF
}

# fixture_experiment NAME OUTPUT CACHE [SAMPLES]: the [experiment], [model], [calibration] and
# [evaluation] sections of a small experiment on the llama-gqa fixture (SAMPLES calibration
# sequences of 64 tokens, default 8; evaluation windows of 64); a test appends the rest.
fixture_experiment() {
  cat <<EOF
[experiment]
name = $1
output = $2
cache = $3
[model]
path = $(pwd)/tests/fixtures/llama-gqa
[calibration]
data = text:$(pwd)/tests/fixtures/text/calib.txt
samples = ${4:-8}
seqlen = 64
[evaluation]
data = text:$(pwd)/tests/fixtures/text/eval.txt
seqlen = 64
EOF
}

# tinyprose_sweep_ini NAME OUTPUT CACHE METHODS GRID MAX_WINDOWS [EXTRA SWEEP LINE]: the INI of a
# sweep of the bundled model at 3 and 4 bits, group 64 (8 calibration sequences of 128 tokens,
# 4 of them for the AWQ losses; evaluation windows of 128). threads = 1: the split searches and
# Slurm's one-CPU tasks must compute the numbers of the single process they are compared with.
tinyprose_sweep_ini() {
  cat <<EOF
[experiment]
name = $1
output = $2
cache = $3
seed = 0
threads = 1
[model]
path = $(pwd)/models/tinyprose
[calibration]
data = text:$(pwd)/models/tinyprose/data/calib.txt
samples = 8
awq_samples = 4
seqlen = 128
[evaluation]
data = text:$(pwd)/models/tinyprose/data/heldout.txt@0:200000
seqlen = 128
max_windows = $6
[sweep]
method = $4
bits = 3, 4
group_size = 64
grid = $5
${7:-}
EOF
}

# llama_cpp_bin TMPDIR: the bin directory of the llama.cpp build (tools/llama-cpp: built once,
# cached), printed; skips the test when llama.cpp cannot be fetched or built (exit 3 or 6 of
# tools/llama-cpp), fails on any other error.
llama_cpp_bin() {
  local out rc
  out=$(tools/llama-cpp 2>"$1/build.err"); rc=$?
  # (in $(...): the skip message goes to stderr, which the test runner shows)
  if [ $rc -eq 3 ] || [ $rc -eq 6 ]; then skip "llama.cpp not built: $(tail -n 1 "$1/build.err")" >&2; fi
  [ $rc -eq 0 ] || { tail -n 20 "$1/build.err" >&2; fail "tools/llama-cpp failed (exit $rc)"; }
  printf '%s\n' "$out"
}
