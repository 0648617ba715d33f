#!/usr/bin/env bash
# paper_dryrun.sh — every experiment under experiments/paper/ (the paper reproductions, their
# offline alternates) parses and plans with `run --dry-run`, which reads neither models nor
# data; each paper experiment (outside offline/) names the HuggingFace model it needs, and the
# published-numbers file it names exists.
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
  if [ -n "$pub" ] && [ ! -f "$pub" ]; then
    echo "FAIL: $f: published = $pub does not exist"; errors=$((errors + 1))
  fi
done < <(find experiments/paper -name '*.ini' | sort)
[ "$n" -gt 0 ] || fail "no experiments under experiments/paper"
[ $errors -eq 0 ] || fail "$errors of $n paper experiments failed"
[ -n "${AH_VERBOSE:-}" ] && echo "$n experiments plan"
exit 0
