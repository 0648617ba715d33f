#!/usr/bin/env bash
# paper_dryrun.sh — every experiment under experiments/paper/ (the paper reproductions, their
# offline alternates) parses and plans with `run --dry-run`, which reads neither models nor
# data; each paper experiment (outside offline/) names the HuggingFace model it needs and a
# published-numbers file that exists, and every run id in a published file is planned by the
# experiments that name it.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0 n=0
while IFS= read -r f; do
  n=$((n + 1))
  if ! "$AH_BIN" run "$f" --dry-run > "$tmp/out" 2> "$tmp/err"; then
    echo "FAIL: $f: $(cat "$tmp/err")"; errors=$((errors + 1)); continue
  fi
  grep -q ' planned runs' "$tmp/out" || { echo "FAIL: $f: no plan: $(cat "$tmp/out")"; errors=$((errors + 1)); }
  case "$f" in */offline/*) continue;; esac
  # The model include names an hf_id (tools/fetch-model <hf_id>).
  inc=$(sed -n 's/^include *= *\(.*configs\/models\/.*\.ini\) *$/\1/p' "$f" | head -n 1)
  if [ -z "$inc" ] || ! grep -q '^hf_id *= *[^ ]*/' "$(dirname "$f")/$inc"; then
    echo "FAIL: $f: its model config ($inc) names no hf_id"; errors=$((errors + 1))
  fi
  pub=$(sed -n 's/^published *= *//p' "$f" | head -n 1)
  if [ -z "$pub" ] || [ ! -f "$pub" ]; then
    echo "FAIL: $f: published = '$pub' does not exist"; errors=$((errors + 1)); continue
  fi
  # The planned run ids, gathered per published file.
  awk 'NF >= 2 && $1 ~ /^[0-9]+$/ { print $2 }' "$tmp/out" >> "$tmp/planned.$(basename "$pub")"
done < <(find experiments/paper -name '*.ini' | sort)
for pub in experiments/paper/*.published.csv; do
  [ -f "$pub" ] || continue
  planned="$tmp/planned.$(basename "$pub")"
  [ -f "$planned" ] || { echo "FAIL: $pub: no experiment names it"; errors=$((errors + 1)); continue; }
  # Column 1 of the data lines when the header starts with "run" (ids; label lines leave it empty).
  head -n 50 "$pub" | grep -v '^#' | head -n 1 | grep -q '^run,' || continue
  for id in $(grep -v '^#' "$pub" | tail -n +2 | cut -d, -f1); do
    grep -qx "$id" "$planned" || { echo "FAIL: $pub: run $id is planned by no experiment naming it"; errors=$((errors + 1)); }
  done
done
# Without its model a paper experiment says what is missing and how to fetch it.
out=$(AH_MODELS="$tmp/no-models" "$AH_BIN" run experiments/paper/gptq-table3.ini 2>&1) &&
  fail "gptq-table3 ran without its model"
case "$out" in
  *"does not exist: it is HuggingFace facebook/opt-125m"*"tools/fetch-model facebook/opt-125m"*) ;;
  *) fail "missing-model message does not say how to fetch it: $out" ;;
esac
[ "$n" -gt 0 ] || fail "no experiments under experiments/paper"
[ $errors -eq 0 ] || fail "$errors problems in experiments/paper ($n experiments)"
[ -n "${AH_VERBOSE:-}" ] && echo "$n experiments plan"
exit 0
