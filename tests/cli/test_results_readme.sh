#!/usr/bin/env bash
# test_results_readme.sh — the examples of results/README.md run as written (issue 19): every
# ```python block with python3 (h5py, numpy, pandas) and every ```sh block with bash, in a
# folder whose results/quickstart.h5 has the plan of experiments/quickstart.ini (its [sweep]
# sections as written) computed on the llama-gqa fixture instead of tinyprose (seconds, not
# minutes). A block that fails, or a README without them, fails the test.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py, numpy" 2>/dev/null || fail "python3-h5py and numpy are needed (make deps installs them)"
$PY -c "import pandas" 2>/dev/null || skip "python3-pandas is not installed (tools/install-deps installs it)"
command -v h5dump >/dev/null || fail "h5dump is needed (hdf5-tools; make deps installs it)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ROOT=$(pwd)

# The quickstart's sweeps, on the fixture.
{ fixture_experiment quickstart "$tmp/work/results/quickstart.h5" "$tmp/cache" 8
  printf 'max_windows = 4\n[experiment]\nthreads = 1\n'
  sed -n '/^\[sweep/,$p' experiments/quickstart.ini | sed '/^\[plot\./,/^$/d'
} >"$tmp/q.ini"
"$AH_BIN" run "$tmp/q.ini" >"$tmp/run.out" 2>&1 || fail "the stand-in quickstart failed: $(tail -5 "$tmp/run.out")"

# Extract the blocks: file per block, in order.
awk -v dir="$tmp" '
  /^```(python|sh)$/ { n++; lang = substr($0, 4); f = dir "/block" n "." (lang == "python" ? "py" : "sh"); inb = 1; next }
  /^```/ && inb { inb = 0; close(f); next }
  inb { print > f }' results/README.md
n=$(ls "$tmp"/block* 2>/dev/null | wc -l)
[ "$n" -ge 3 ] || fail "results/README.md has $n runnable example blocks (want the h5py, pandas and command-line ones)"
cd "$tmp/work" || fail "no work folder"
for b in "$tmp"/block*; do
  case "$b" in
    *.py) out=$($PY "$b" 2>&1) || fail "results/README.md example $(basename "$b") failed:
$(sed 's/^/    /' "$b")
$out";;
    *.sh) out=$(bash -e "$b" 2>&1) || fail "results/README.md example $(basename "$b") failed:
$(sed 's/^/    /' "$b")
$out";;
  esac
  [ -n "$out" ] || fail "example $(basename "$b") printed nothing"
done
cd "$ROOT" || exit 1
echo "results/README.md: $n example blocks run as written"
