#!/usr/bin/env bash
# test_bad_inputs.sh — malformed inputs each give a one-line error on stderr that names the
# file (or tensor) at fault and a non-zero exit, never a crash (no signal, no sanitizer
# report). Run against the sanitizer build too: AH_BIN=./awq-harness-asan.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
TEXT=$FIX/text/eval.txt
errors=0

# expect_error: tests/cli/lib.sh.

# A copy of a fixture checkpoint to damage.
fixture_copy() { rm -rf "$tmp/$1"; cp -r "$FIX/llama-gqa" "$tmp/$1"; echo "$tmp/$1"; }
eval_on() { "$AH_BIN" eval --quiet --model "$1" --data "text:$TEXT" --seqlen 64 "${@:2}"; }

# 1. truncated safetensors (cut inside the data)
d=$(fixture_copy trunc); head -c 100000 "$FIX/llama-gqa/model.safetensors" >"$d/model.safetensors"
expect_error truncated-safetensors 'model\.safetensors' -- eval_on "$d"

# 2. header length beyond the file
d=$(fixture_copy hdrlen); printf '\377\377\377\000\000\000\000\000{}' >"$d/model.safetensors"
expect_error header-length 'model\.safetensors.*header' -- eval_on "$d"

# 3. unknown dtype
d=$(fixture_copy dtype)
LC_ALL=C sed 's/"dtype":"F32","shape":\[64\]/"dtype":"Q32","shape":[64]/' \
  "$FIX/llama-gqa/model.safetensors" >"$d/model.safetensors"
expect_error unknown-dtype "model\.safetensors.*(Q32|dtype)" -- eval_on "$d"

# 4. missing tensor (renamed in the header, same length)
d=$(fixture_copy missing)
LC_ALL=C sed 's/"model\.norm\.weight"/"model\.norm\.weighX"/' \
  "$FIX/llama-gqa/model.safetensors" >"$d/model.safetensors"
expect_error missing-tensor "model\.norm\.weight" -- eval_on "$d"

# 5. bad config.json (not JSON)
d=$(fixture_copy badcfg); printf '{"model_type": "llama", "hidden_size": 64,' >"$d/config.json"
expect_error bad-config 'config\.json' -- eval_on "$d"

# 6. unknown model_type
d=$(fixture_copy arch); sed 's/"model_type": "llama"/"model_type": "gpt_neox"/' \
  "$FIX/llama-gqa/config.json" >"$d/config.json"
expect_error unknown-model-type "config\.json.*gpt_neox" -- eval_on "$d"

# 7. bad tokenizer.json (truncated JSON)
d=$(fixture_copy badtok); head -c 2000 "$FIX/llama-gqa/tokenizer.json" >"$d/tokenizer.json"
expect_error bad-tokenizer 'tokenizer\.json' -- eval_on "$d"

# 8. empty data file
: >"$tmp/empty.txt"
expect_error empty-data 'empty\.txt' -- "$AH_BIN" eval --quiet --model "$FIX/llama-gqa" \
  --data "text:$tmp/empty.txt" --seqlen 64

# 9. non-UTF-8 text
printf 'valid start \377\376 then garbage\n' >"$tmp/latin.txt"
expect_error non-utf8 'latin\.txt.*(UTF-8|utf-8)' -- "$AH_BIN" eval --quiet \
  --model "$FIX/llama-gqa" --data "text:$tmp/latin.txt" --seqlen 64

# 10. window longer than the model allows (fixture max_position_embeddings = 128)
expect_error window-too-long 'longer than the model allows' -- "$AH_BIN" eval --quiet \
  --model "$FIX/llama-gqa" --data "text:$TEXT" --seqlen 4096

# More: NaN in a weight, shape mismatch, a text file as a llama2.c checkpoint, missing paths.
d=$(fixture_copy nan); cp "$FIX/llama-gqa/model.safetensors" "$d/model.safetensors"
/usr/bin/python3 - "$d/model.safetensors" <<'EOF' 2>/dev/null || skip_nan=1
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
beg = h['model.layers.1.mlp.up_proj.weight']['data_offsets'][0] + 8 + n + 4 * 70
b[beg:beg + 4] = struct.pack('<f', float('nan')); open(p, 'wb').write(b)
EOF
if [ -z "${skip_nan:-}" ]; then
  expect_error nan-weight "layers\.1\.mlp\.up_proj\.weight.*non-finite" -- eval_on "$d"
fi

d=$(fixture_copy shape); sed 's/"intermediate_size": 172/"intermediate_size": 128/' \
  "$FIX/llama-gqa/config.json" >"$d/config.json"
expect_error shape-mismatch "gate_proj\.weight.*shape" -- eval_on "$d"

expect_error text-as-llama2c 'not a llama2\.c checkpoint' -- "$AH_BIN" eval --quiet \
  --model "$TEXT" --tokenizer "$FIX/llama2c/tokenizer.bin" --data "text:$TEXT"
expect_error truncated-llama2c 'truncated' -- bash -c \
  "head -c 5000 $FIX/llama2c/model.bin > $tmp/t.bin && exec $AH_BIN eval --quiet --model $tmp/t.bin --tokenizer $FIX/llama2c/tokenizer.bin --data text:$TEXT"
expect_error no-such-model 'no-such-dir' -- "$AH_BIN" eval --model "$tmp/no-such-dir" --data "text:$TEXT"
expect_error not-a-checkpoint 'no config\.json' -- "$AH_BIN" eval --model "$tmp" --data "text:$TEXT"
expect_error bad-seqlen '--seqlen' -- "$AH_BIN" eval --model "$FIX/llama-gqa" --data "text:$TEXT" --seqlen abc
expect_error bad-protocol '--protocol' -- "$AH_BIN" eval --model "$FIX/llama-gqa" --data "text:$TEXT" --protocol foo
expect_error bad-source 'data source|source' -- "$AH_BIN" eval --model "$FIX/llama-gqa" --data "nope:$TEXT"

[ $errors -eq 0 ] || fail "$errors bad-input case(s) misbehaved"
echo "all bad-input cases gave one-line errors"
