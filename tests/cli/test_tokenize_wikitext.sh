#!/usr/bin/env bash
# test_tokenize_wikitext.sh — `awq-harness tokenize --data wikitext2:test` (the rows rebuilt
# and joined with "\n\n", then one tokenizer call: what `eval` feeds the model) gives exactly
# the HuggingFace reference's ids for the GPT-2 and Llama-2 tokenizer files: count and
# SHA-256 from tests/golden/wikitext2_test.txt (written by tools/make-token-goldens).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
[ -f "$SHARED/wikitext-2-raw/wiki.test.raw" ] || skip "$SHARED/wikitext-2-raw absent"
errors=0
for name in gpt2 llama2; do
  want=$(sed -n "s/^$name //p" tests/golden/wikitext2_test.txt)
  [ -n "$want" ] || fail "no golden for $name"
  got=$("$AH_BIN" tokenize --tokenizer "$SHARED/tokenizers/$name" --data wikitext2:test \
        --wikitext-dir "$SHARED/wikitext-2-raw" --format summary) || fail "$name: tokenize failed"
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: got '$got', reference '$want'"; errors=$((errors + 1))
  fi
done
[ $errors -eq 0 ] || fail "$errors tokenizer(s) differ from the reference"
echo "WikiText-2 test ids equal the reference for gpt2 and llama2"
