#!/usr/bin/env bash
# test_pinned_plans.sh — run ids and cache keys do not move. Results files are keyed by run id
# and caches by content key, so a change to either silently orphans every existing results file
# and cache entry. tests/golden/plans/ (written by tools/pin-plans before the parameter-table
# refactor, issue 18) holds the planned run ids of every experiment under experiments/ and the
# run and AWQ-search keys of experiments/quickstart.ini; the harness must reproduce them
# exactly. The description column of --dry-run is not pinned (it is for people).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
unset AH_MODELS AH_DATA   # the experiments' ${...:-default} paths
gold=tests/golden/plans
errors=0; n=0
ids() { awk 'NR == 1 {print} /^ *[0-9]+  / {print $1, $2}' "$1"; }
while read -r f; do
  name=$(printf '%s' "${f#experiments/}" | tr '/' '_'); name=${name%.ini}
  [ -f "$gold/$name.txt" ] || { echo "FAIL $f: no pinned plan $gold/$name.txt (tools/pin-plans)"; errors=$((errors + 1)); continue; }
  got=$("$AH_BIN" run "$f" --dry-run 2>&1) || { echo "FAIL $f: --dry-run failed: $got"; errors=$((errors + 1)); continue; }
  if ! diff <(ids "$gold/$name.txt") <(ids /dev/stdin <<<"$got") > /dev/null; then
    echo "FAIL $f: planned ids differ from $gold/$name.txt:"
    diff <(ids "$gold/$name.txt") <(ids /dev/stdin <<<"$got") | head -n 10 | sed 's/^/    /'
    errors=$((errors + 1))
  fi
  n=$((n + 1))
done < <(find experiments -name '*.ini' | sort)
got=$("$AH_BIN" run experiments/quickstart.ini --dry-run --keys 2>&1) || fail "--dry-run --keys failed: $got"
if ! diff "$gold/quickstart.keys" <(printf '%s\n' "$got") > /dev/null; then
  echo "FAIL experiments/quickstart.ini: run or AWQ-search keys differ from $gold/quickstart.keys:"
  diff "$gold/quickstart.keys" <(printf '%s\n' "$got") | head -n 10 | sed 's/^/    /'
  errors=$((errors + 1))
fi
[ "$n" -ge 20 ] || fail "only $n experiment files found"
[ $errors -eq 0 ] || fail "$errors pinned plans or key lists differ"
echo "run ids of $n experiments and the keys of $(grep -c " run " "$gold/quickstart.keys") quickstart runs as pinned"
