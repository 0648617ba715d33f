#!/usr/bin/env bash
# test_split_search.sh — one AWQ search split into block ranges (`awq-harness search`,
# experiment/split_search.h), without Slurm (tests/cli/test_slurm.sh repeats it under Slurm):
#  1. the bundled model's searches (6 blocks; INT3 and INT4 g64, clip on) computed as 3 parts
#     (`search --part i/3`) and joined (`search --join`) equal the single-process searches bit
#     for bit: alphas, losses, scales, clip thresholds, input statistics
#     (tools/awq-search-compare, h5py; a copy with one scale changed is told apart);
#  2. the runs of the experiment then take the joined search from the cache ("awq-cached") and
#     get the single-process runs' perplexity exactly;
#  3. uneven ranges (--blocks 1:, 0:1) join too; a part already searched is skipped; a part
#     missing from the join, propagate = quantized, a range outside the model, too many parts
#     and an experiment without AWQ are one-line errors.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py" 2>/dev/null || fail "python3-h5py is needed (make deps installs it)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# ini NAME CACHE [EXTRA SWEEP LINE]: two AWQ searches of the bundled model (lib.sh), one thread
# (the single-process and the split searches must use the same thread count).
ini() { tinyprose_sweep_ini "$1" "$tmp/$1.h5" "$2" awq 5 4 "${3:-}"; }
ini single "$tmp/cache-single" >"$tmp/single.ini"
ini split "$tmp/cache-split" >"$tmp/split.ini"

# 1. single process (the runs compute and cache both searches), then 3 parts + join
"$AH_BIN" run "$tmp/single.ini" --quiet >"$tmp/single.out" 2>&1 || { cat "$tmp/single.out"; fail "single-process run failed"; }
for i in 0 1 2; do
  "$AH_BIN" search "$tmp/split.ini" --part "$i/3" >"$tmp/part$i.log" 2>&1 || { cat "$tmp/part$i.log"; fail "search --part $i/3 failed"; }
done
n_parts=$(ls "$tmp/cache-split/awq/parts" | wc -l)
[ "$n_parts" -eq 6 ] || fail "want 6 part files (2 searches x 3 parts), got $n_parts"
grep -q "block 2 of \[2, 4)" "$tmp/part1.log" || fail "part 1/3 did not search blocks [2, 4): $(cat "$tmp/part1.log")"
grep -q "block [0145] of" "$tmp/part1.log" && fail "part 1/3 searched blocks outside [2, 4)"
# a part already searched is not searched again
"$AH_BIN" search "$tmp/split.ini" --part 1/3 >"$tmp/again.log" 2>&1 || fail "repeated part failed"
grep -q "already searched" "$tmp/again.log" || fail "repeated part did not skip: $(cat "$tmp/again.log")"
"$AH_BIN" search "$tmp/split.ini" --join >"$tmp/join.log" 2>&1 || { cat "$tmp/join.log"; fail "join failed"; }
[ -z "$(ls "$tmp/cache-split/awq/parts")" ] || fail "parts left after the join"
n=0
for a in "$tmp"/cache-single/awq/*.h5; do
  b="$tmp/cache-split/awq/$(basename "$a")"
  [ -f "$b" ] || fail "joined search $(basename "$a") missing (keys differ?)"
  tools/awq-search-compare "$a" "$b" >"$tmp/cmp" || { cat "$tmp/cmp"; fail "split search differs from the single-process search"; }
  n=$((n + 1))
done
[ "$n" -eq 2 ] || fail "want 2 AWQ searches in the single-process cache, found $n"
# the comparison covers clip thresholds and alphas, and can fail
a=$(ls "$tmp"/cache-single/awq/*.h5 | head -n 1)
$PY - "$a" "$tmp/changed.h5" <<'PY' || fail "could not make the changed copy"
import shutil, sys, h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    names = []
    f.visit(names.append)
    assert any("/clip/" in n for n in names), "no clip thresholds in the search"
    assert any(n.endswith("/alphas") for n in names), "no alphas in the search"
    d = f[[n for n in names if n.startswith("layers/3/") and n.endswith("/scales")][0]]
    v = d[()]
    v[5] = np.nextafter(v[5], np.float32(1e9))
    d[...] = v
PY
tools/awq-search-compare "$a" "$tmp/changed.h5" >"$tmp/cmp" && fail "a changed scale was not told apart"
grep -q "1 of .* values differ" "$tmp/cmp" || fail "comparison did not name the changed value: $(cat "$tmp/cmp")"

# 2. the runs take the joined search and get the same perplexities
"$AH_BIN" run "$tmp/split.ini" --quiet >"$tmp/split.out" 2>&1 || { cat "$tmp/split.out"; fail "run on the joined search failed"; }
$PY - "$tmp/single.h5" "$tmp/split.h5" <<'PY' || fail "runs on the joined search differ"
import sys, h5py
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    ids = sorted(a["runs"].keys())
    assert ids == sorted(b["runs"].keys()) and len(ids) == 2, (ids, list(b["runs"].keys()))
    for i in ids:
        ra, rb = a["runs"][i], b["runs"][i]
        cache = rb.attrs["cache"]
        cache = cache.decode() if isinstance(cache, bytes) else cache
        assert cache == "awq-cached", (i, cache)
        assert ra["ppl"][()] == rb["ppl"][()], (i, ra["ppl"][()], rb["ppl"][()])
PY

# 3. uneven ranges, errors
ini uneven "$tmp/cache-uneven" >"$tmp/uneven.ini"
"$AH_BIN" search "$tmp/uneven.ini" --blocks 1: --quiet || fail "search --blocks 1: failed"
errors=0
expect_error join-missing "blocks 0 to 0 have no part" -- "$AH_BIN" search "$tmp/uneven.ini" --join --quiet
"$AH_BIN" search "$tmp/uneven.ini" --blocks 0:1 --quiet || fail "search --blocks 0:1 failed"
"$AH_BIN" search "$tmp/uneven.ini" --join --quiet || fail "join of uneven parts failed"
for a in "$tmp"/cache-single/awq/*.h5; do
  tools/awq-search-compare "$a" "$tmp/cache-uneven/awq/$(basename "$a")" >"$tmp/cmp" || { cat "$tmp/cmp"; fail "uneven split differs"; }
done
ini quant "$tmp/cache-q" "propagate = quantized" >"$tmp/quant.ini"
expect_error propagate-quantized "propagate = quantized cannot be split" -- "$AH_BIN" search "$tmp/quant.ini" --part 0/3 --quiet
expect_error range-outside "not a range of the model's 6 blocks" -- "$AH_BIN" search "$tmp/split.ini" --blocks 4:9 --quiet
expect_error too-many-parts "7 parts of a search of 6 blocks" -- "$AH_BIN" search "$tmp/split.ini" --part 0/7 --quiet
expect_error two-modes "one of --blocks, --part, --join" -- "$AH_BIN" search "$tmp/split.ini" --join --part 0/3 --quiet
sed 's/^method = awq/method = rtn/' "$tmp/split.ini" >"$tmp/rtn.ini"
expect_error no-awq "no run of the plan searches AWQ" -- "$AH_BIN" search "$tmp/rtn.ini" --part 0/3 --quiet
[ "$errors" -eq 0 ] || fail "$errors of $cases error cases failed"
echo "split search: 2 searches x 3 parts joined == single process, bit for bit; runs equal; $cases error cases"
