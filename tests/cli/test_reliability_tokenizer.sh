#!/usr/bin/env bash
# test_reliability_tokenizer.sh — tokenizer files that cost time or memory out of proportion
# (issue 23 items 5, 6 and 16): a Split regex that backtracks exponentially, 100,000 added
# tokens, tokenizer files over the size limit. Each case runs under `timeout` and must either
# finish correctly or end with exit 1 and one "awq-harness: FILE: ..." line naming the
# tokenizer file; the binary of the starting commit hangs, takes minutes, or says something
# else. docs/reliability.md ("Second round") lists every case with its message.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import json" 2>/dev/null || skip "needs /usr/bin/python3 to build the inputs"

errors=0 cases=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
C=$tmp/c   # tokenizers (one folder each); texts lie in $tmp
LIMIT=60   # seconds per command; the fixed binary needs under 3 s on a loaded 2-core machine

# expect_error: tests/cli/lib.sh. The command runs under timeout: 124 (a hang) is a failure.
tokz() { timeout "${LIMIT_ONE:-$LIMIT}" "$AH_BIN" tokenize --tokenizer "$C/$1" --data "text:$tmp/$2" --format summary; }
eval_redos() { timeout $LIMIT "$AH_BIN" eval --quiet --model "$C/redos-model" --data "text:$tmp/$1" \
  --seqlen 64 --max-windows 4; }
# expect_ok NAME WANT -- COMMAND...: exit 0 within the limit and stdout equal to WANT.
expect_ok() {
  local name="$1" want="$2"; shift 3
  cases=$((cases + 1))
  local got t0=$SECONDS
  got=$("$@" 2>"$tmp/err"); local rc=$?
  if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $rc, got '$got', want '$want' ($(head -c 300 "$tmp/err"))"
    errors=$((errors + 1)); return
  fi
  [ -n "${AH_VERBOSE:-}" ] && echo "ok   $name: $got ($((SECONDS - t0)) s)"
  return 0
}

mkdir "$C"
cat >"$tmp/gen.py" <<'EOF'
import json, os, shutil, sys
fix, out, tmp = sys.argv[1], sys.argv[2], sys.argv[3]

# GPT-2's byte-level alphabet as the vocabulary (ids 0-255, no merges): every text encodes.
keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cps, extra = {}, 256
for b in range(256):
    cps[b] = b if b in keep else None
    if cps[b] is None:
        cps[b], extra = extra, extra + 1
VOCAB = {chr(cps[b]): b for b in range(256)}

def added(texts, first=256):
    return [dict(id=first + i, content=c, single_word=False, lstrip=False, rstrip=False,
                 normalized=False, special=True) for i, c in enumerate(texts)]

def tok(pre, added_tokens=()):
    return {"version": "1.0", "added_tokens": list(added_tokens), "normalizer": None,
            "pre_tokenizer": pre, "post_processor": None, "decoder": None,
            "model": {"type": "BPE", "vocab": VOCAB, "merges": []}}

BYTELEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}

def write(name, obj, file='tokenizer.json'):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, file), 'w') as f:
        json.dump(obj, f)

def text(name, s):
    with open(os.path.join(tmp, name), 'w') as f:
        f.write(s)

# (Ids are byte values.) Item 5: exponential backtracking in a Split pattern.
redos = tok({"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(a+)+b|[\\s\\S]"}, "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]})
write('redos', redos)
shutil.copytree(os.path.join(fix, 'llama-gqa'), os.path.join(out, 'redos-model'))
write('redos-model', redos)   # 256 tokens inside the fixture model's 512
text('a20x.txt', ('a' * 20 + '!') * 50000)   # 1.05 MB: 2^20 steps per piece, 50k pieces
text('a40.txt', 'a' * 40 + '!')              # one call over PCRE2's own 10^7 match limit
text('ab.txt', 'ab!' * 1000)                 # the same pattern on text it handles quickly

# Item 6: 100,000 added tokens; 300 KB of '<' that starts each of them.
write('added100k', tok(BYTELEVEL, added(['<%05d>' % i for i in range(100000)])))
text('small.txt', 'hello <00042> world<99999>')
text('lt300k.txt', '<' * 300000)
# A 4000-byte added token that starts at every position of the same text: one memcmp each.
write('added-long', tok(BYTELEVEL, added(['<' * 4000 + 'x'])))
# Two that share those 4000 bytes: one trie edge, then a branch.
write('added-long-shared', tok(BYTELEVEL, added(['<' * 4000 + 'x', '<' * 4000 + 'y'])))
# 600 tokens '<'*k + 'x': the trie branches at every one of 600 bytes, walked at every position.
write('added-branchy', tok(BYTELEVEL, added(['<' * k + 'x' for k in range(1, 601)])))

# Item 16: files over the 256 MiB limit, sparse (no disk used): a valid start, then zeros.
def sparse(name, file, head):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, file), 'wb') as f:
        f.write(head)
        f.truncate(300 << 20)
sparse('json-over-limit', 'tokenizer.json', b'{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "x": "')
sparse('merges-over-limit', 'merges.txt', b'#version: 0.2\na b\n')
with open(os.path.join(out, 'merges-over-limit', 'vocab.json'), 'w') as f:
    json.dump({"a": 0, "b": 1, "ab": 2}, f)
sparse('vocab-over-limit', 'vocab.json', b'{"a": 0, "b": 1, "ab": 2, "x": "')
with open(os.path.join(out, 'vocab-over-limit', 'merges.txt'), 'w') as f:
    f.write('#version: 0.2\na b\n')
sparse('bin-over-limit', 'tokenizer.bin', b'\x10\x00\x00\x00')
EOF
$PY "$tmp/gen.py" "$PWD/tests/fixtures" "$C" "$tmp" || fail "could not build the inputs"

# ---- item 5: regex work is budgeted per input byte; a limit error is an error, not "no match"
REDOS="tokenizer\.json: pre_tokenizer Split regex '\(a\+\)\+b\|\[\\\\s\\\\S\]': work budget of [0-9]+ PCRE2 steps"
expect_error regex-redos-tokenize "redos/$REDOS for a 1050000-byte text segment" -- tokz redos a20x.txt
expect_error regex-redos-eval "redos-model/$REDOS" -- eval_redos a20x.txt
expect_error regex-limit-not-nomatch "redos/$REDOS for a 41-byte text segment" -- tokz redos a40.txt
expect_ok regex-quick-text "count=3000 sha256=$(
  $PY -c "import hashlib,struct; print(hashlib.sha256(struct.pack('<3000i', *([97, 98, 33] * 1000))).hexdigest())")" \
  -- tokz redos ab.txt

# ---- item 6: added tokens through a hash index and a trie
sum() { $PY -c "import hashlib,struct,sys; v=[int(x) for x in sys.argv[1:]]; print('count=%d sha256=%s' % (len(v), hashlib.sha256(struct.pack('<%di' % len(v), *v)).hexdigest()))" "$@"; }
# Loading 100k added tokens took 22 s of CPU (quadratic duplicate check); now 0.4 s.
LIMIT_ONE=20 expect_ok added-100k-load "$(sum 104 101 108 108 111 32 298 32 119 111 114 108 100 100255)" -- tokz added100k small.txt
LT300K="count=300000 sha256=$($PY -c "import hashlib,struct; print(hashlib.sha256(struct.pack('<i', 60) * 300000).hexdigest())")"   # '<' is id 60
expect_ok added-100k-scan "$LT300K" \
  -- tokz added100k lt300k.txt
expect_ok added-long "$LT300K" \
  -- tokz added-long lt300k.txt
expect_ok added-long-shared "$LT300K" -- tokz added-long-shared lt300k.txt
expect_error added-branchy "added-branchy/tokenizer\.json: added tokens: matching them against the 300000-byte input took over [0-9]+ trie steps" \
  -- tokz added-branchy lt300k.txt

# ---- item 16: tokenizer files are capped at 256 MiB before they are read
OVER="314572800 bytes, over the 268435456-byte \(256 MiB\) limit for tokenizer files"
expect_error json-over-limit "json-over-limit/tokenizer\.json: $OVER" -- tokz json-over-limit small.txt
expect_error merges-over-limit "merges-over-limit/merges\.txt: $OVER" -- tokz merges-over-limit small.txt
expect_error vocab-over-limit "vocab-over-limit/vocab\.json: $OVER" -- tokz vocab-over-limit small.txt
expect_error bin-over-limit "bin-over-limit/tokenizer\.bin: $OVER" -- tokz bin-over-limit/tokenizer.bin small.txt

[ $errors -eq 0 ] || fail "$errors of $cases cases failed"
echo "all $cases tokenizer reliability cases passed"
