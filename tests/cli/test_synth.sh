#!/usr/bin/env bash
# test_synth.sh — `awq-harness synth` on the committed fixtures' config.json files:
#  1. the tensors written (names, shapes) are exactly those of the real fixture checkpoint with
#     that config (llama GQA untied, qwen2 with q/k/v biases and tied head, OPT with LayerNorm
#     biases and learned positions), in the dtype asked for (F16, BF16, F32);
#  2. values: linears and embeddings have mean ~0 and std ~0.02 (or --std), norms are 1,
#     biases 0; ids.txt holds in-vocabulary ids;
#  3. determinism: the same seed gives the same bytes with 1 and 2 threads; another seed does not;
#  4. the result evaluates (`eval --data ids:DIR/ids.txt`, finite perplexity near the vocabulary
#     size, as for random weights) and quantizes (`quantize --method awq --calib ids:...`);
#  5. bad inputs (unknown model_type, bad dtype, missing options) fail with one line.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
PY=/usr/bin/python3
errors=0

# header_check SYNTH_DIR FIXTURE_DIR DTYPE STD: compares the safetensors headers and the values.
header_check() {
  "$PY" - "$1" "$2" "$3" "$4" <<'EOF'
import json, os, struct, sys
import numpy as np
syn, fix, dtype, std = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def header(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop('__metadata__', None)
    return h, 8 + n
def fixture_shapes(d):
    if os.path.exists(os.path.join(d, 'model.safetensors')):
        return {k: v['shape'] for k, v in header(os.path.join(d, 'model.safetensors'))[0].items()}
    idx = json.load(open(os.path.join(d, 'model.safetensors.index.json')))
    out = {}
    for f in sorted(set(idx['weight_map'].values())):
        out.update({k: v['shape'] for k, v in header(os.path.join(d, f))[0].items()})
    return out
h, base = header(os.path.join(syn, 'model.safetensors'))
want = fixture_shapes(fix)
got = {k: v['shape'] for k, v in h.items()}
bad = []
if got != want:
    bad.append('tensors differ: missing %s, extra %s, shapes %s' % (
        sorted(set(want) - set(got)), sorted(set(got) - set(want)),
        [k for k in got if k in want and got[k] != want[k]]))
raw = open(os.path.join(syn, 'model.safetensors'), 'rb').read()
lin = []
for k, v in h.items():
    if v['dtype'] != dtype:
        bad.append('%s: dtype %s, expected %s' % (k, v['dtype'], dtype)); continue
    b0, b1 = v['data_offsets']
    buf = raw[base + b0: base + b1]
    if dtype == 'F16': x = np.frombuffer(buf, np.float16).astype(np.float64)
    elif dtype == 'F32': x = np.frombuffer(buf, np.float32).astype(np.float64)
    else: x = (np.frombuffer(buf, np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if k.endswith('norm.weight') or 'layer_norm.weight' in k:
        if not np.all(x == 1): bad.append('%s: norm weights are not all 1' % k)
    elif k.endswith('.bias'):
        if not np.all(x == 0): bad.append('%s: biases are not all 0' % k)
    else:
        lin.append(x)
x = np.concatenate(lin)
if abs(x.mean()) > 0.02 * std or abs(x.std() / std - 1) > 0.02:
    bad.append('random weights: mean %g std %g, expected 0 and %g' % (x.mean(), x.std(), std))
V = json.load(open(os.path.join(syn, 'config.json')))['vocab_size']
ids = [int(t) for t in open(os.path.join(syn, 'ids.txt')).read().split()]
if len(ids) != 8192 or min(ids) < 0 or max(ids) >= V or len(set(ids)) < V // 2:
    bad.append('ids.txt: %d ids in [%d, %d], vocabulary %d' % (len(ids), min(ids), max(ids), V))
for b in bad: print(b)
sys.exit(1 if bad else 0)
EOF
}

# 1, 2: shapes, dtypes, values
for case in "llama-gqa f16 F16 0.02" "qwen2 bf16 BF16 0.05" "opt f32 F32 0.02"; do
  set -- $case
  out="$tmp/$1"
  if ! "$AH_BIN" synth --quiet --config "$FIX/$1/config.json" --dtype "$2" --std "$4" --out "$out" \
       >"$tmp/out" 2>&1; then
    echo "FAIL synth $1: $(cat "$tmp/out")"; errors=$((errors + 1)); continue
  fi
  cmp -s "$FIX/$1/config.json" "$out/config.json" || { echo "FAIL $1: config.json not copied"; errors=$((errors + 1)); }
  if [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
    msg=$(header_check "$out" "$FIX/$1" "$3" "$4") || { echo "FAIL $1: $msg"; errors=$((errors + 1)); }
  else
    echo "note: $PY with numpy absent, tensor values not checked"
  fi
done

# 3: determinism
"$AH_BIN" synth --quiet --threads 1 --config "$FIX/llama-gqa/config.json" --out "$tmp/t1" >/dev/null &&
"$AH_BIN" synth --quiet --threads 2 --config "$FIX/llama-gqa/config.json" --out "$tmp/t2" >/dev/null &&
"$AH_BIN" synth --quiet --seed 7 --config "$FIX/llama-gqa/config.json" --out "$tmp/t7" >/dev/null ||
  { echo "FAIL synth (determinism runs)"; errors=$((errors + 1)); }
cmp -s "$tmp/t1/model.safetensors" "$tmp/t2/model.safetensors" ||
  { echo "FAIL same seed, 1 vs 2 threads: files differ"; errors=$((errors + 1)); }
cmp -s "$tmp/t1/model.safetensors" "$tmp/llama-gqa/model.safetensors" ||
  { echo "FAIL same seed, separate runs: files differ"; errors=$((errors + 1)); }
cmp -s "$tmp/t1/model.safetensors" "$tmp/t7/model.safetensors" &&
  { echo "FAIL seeds 0 and 7 give the same file"; errors=$((errors + 1)); }
cmp -s "$tmp/t1/ids.txt" "$tmp/t7/ids.txt" &&
  { echo "FAIL seeds 0 and 7 give the same ids"; errors=$((errors + 1)); }

# 4: eval and quantize run on the synthetic checkpoints
for fx in llama-gqa qwen2 opt; do
  [ -f "$tmp/$fx/model.safetensors" ] || continue
  line=$("$AH_BIN" eval --quiet --model "$tmp/$fx" --data "ids:$tmp/$fx/ids.txt" --seqlen 64 \
         --max-windows 4 2>"$tmp/err" | tail -n 1) || { echo "FAIL eval $fx: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
  ppl=$(kv ppl "$line")
  V=$(sed -n 's/.*"vocab_size": *\([0-9]*\).*/\1/p' "$tmp/$fx/config.json")
  # Random weights and uniform random ids: the model is close to uniform over V.
  awk -v p="$ppl" -v v="$V" 'BEGIN { exit !(p > v / 4 && p < 4 * v) }' ||
    { echo "FAIL eval $fx: ppl $ppl not near the vocabulary size $V"; errors=$((errors + 1)); }
done
"$AH_BIN" quantize --quiet --model "$tmp/llama-gqa" --method awq --bits 4 --group 32 \
  --calib "ids:$tmp/llama-gqa/ids.txt" --calib-samples 4 --calib-seqlen 64 --grid 4 \
  --out "$tmp/q" >"$tmp/out" 2>&1 || { echo "FAIL quantize awq: $(cat "$tmp/out")"; errors=$((errors + 1)); }
[ -f "$tmp/q/model.safetensors" ] && [ -f "$tmp/q/awq.safetensors" ] ||
  { echo "FAIL quantize awq: outputs missing"; errors=$((errors + 1)); }

# --layers: the first N blocks, config.json saying so, and it evaluates.
"$AH_BIN" synth --quiet --config "$FIX/llama-gqa/config.json" --layers 1 --out "$tmp/l1" >/dev/null 2>&1 ||
  { echo "FAIL synth --layers 1"; errors=$((errors + 1)); }
n_layer_tensors=$(/usr/bin/python3 -c "
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); print(len({k.split('.')[2] for k in h if k.startswith('model.layers.')}))" \
  "$tmp/l1/model.safetensors" 2>/dev/null)
grep -q '"num_hidden_layers": 1' "$tmp/l1/config.json" && [ "$n_layer_tensors" = 1 ] ||
  { echo "FAIL synth --layers 1: config or tensors (layers with tensors: $n_layer_tensors)"; errors=$((errors + 1)); }
"$AH_BIN" eval --quiet --model "$tmp/l1" --data "ids:$tmp/l1/ids.txt" --seqlen 64 --max-windows 1 \
  >/dev/null 2>&1 || { echo "FAIL eval of the --layers 1 checkpoint"; errors=$((errors + 1)); }

# 5: bad inputs
printf '{"model_type": "gpt_neox", "hidden_size": 8}\n' >"$tmp/bad.json"
bad() {   # expected-message-part, args...
  local want="$1"; shift
  if "$AH_BIN" synth "$@" >"$tmp/out" 2>&1; then echo "FAIL synth $*: succeeded"; errors=$((errors + 1)); return; fi
  grep -q -- "$want" "$tmp/out" || { echo "FAIL synth $*: message '$(cat "$tmp/out")' lacks '$want'"; errors=$((errors + 1)); }
}
bad "unknown model_type 'gpt_neox'" --config "$tmp/bad.json" --out "$tmp/b"
bad "expected f16, bf16 or f32" --config "$FIX/opt/config.json" --dtype f8 --out "$tmp/b"
bad "are required" --config "$FIX/opt/config.json"
bad "no-such.json" --config "$tmp/no-such.json" --out "$tmp/b"
bad "has 2 layers" --config "$FIX/llama-gqa/config.json" --layers 3 --out "$tmp/b"

[ $errors -eq 0 ] || fail "$errors synth check(s) failed"
echo "synth: shapes, dtypes, values, determinism, eval and quantize ok"
