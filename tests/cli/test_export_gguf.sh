#!/usr/bin/env bash
# test_export_gguf.sh — `quantize --format gguf` without llama.cpp (make test; the real loader's
# verdict is tests/cli/test_interop_gguf.sh, make interop):
#  1. for every family GGUF can hold (llama F32 and F16 sharded, qwen2 with biases, llama2.c),
#     the file parses as GGUF v3 (an independent numpy reader below: magic, counts, key types,
#     32-byte aligned offsets, size), carries the keys llama.cpp requires, and its tensors equal
#     the harness export of the same run after undoing the Q/K permutation (llama only);
#  2. `--out DIR` gives DIR/model.gguf + manifest.json; `--out X.gguf` replaces X.gguf;
#  3. a format that cannot hold the run fails in one line before any work (OPT, unknown
#     --format, --method fp16 in the harness format), leaving nothing behind.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 (numpy) not found"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
errors=0

# 1. structure and values
for fx in llama-gqa llama-mha-f16 qwen2 llama2c; do
  # shellcheck disable=SC2046
  "$AH_BIN" quantize --quiet $(fixture_model_args "$fx") --method minmax --bits 4 --group 32 \
    --format gguf --out "$tmp/$fx.gguf" >/dev/null 2>"$tmp/err" ||
    { echo "FAIL $fx: quantize --format gguf: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
  # shellcheck disable=SC2046
  "$AH_BIN" quantize --quiet $(fixture_model_args "$fx") --method minmax --bits 4 --group 32 \
    --out "$tmp/$fx-h" >/dev/null 2>"$tmp/err" ||
    { echo "FAIL $fx: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
  /usr/bin/python3 - "$tmp/$fx.gguf" "$tmp/$fx-h" "$fx" <<'PY' || errors=$((errors + 1))
import json, os, struct, sys
import numpy as np
path, export, fx = sys.argv[1:4]
raw = open(path, "rb").read()
pos = 0
def rd(fmt):
    global pos
    v = struct.unpack_from("<" + fmt, raw, pos); pos += struct.calcsize("<" + fmt); return v[0]
def rstr():
    global pos
    n = rd("Q"); s = raw[pos:pos + n]; pos += n; return s.decode()
SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
def value(t):
    if t == 8: return rstr()
    if t == 9:
        et, n = rd("I"), rd("Q"); return [value(et) for _ in range(n)]
    return rd(SCALAR[t])
assert raw[:4] == b"GGUF", "magic"; pos = 4
assert rd("I") == 3, "version"
nt, nkv = rd("Q"), rd("Q")
kv, types = {}, {}
for _ in range(nkv):
    k = rstr(); t = rd("I"); kv[k] = value(t); types[k] = t
infos = []
for _ in range(nt):
    name = rstr(); nd = rd("I"); ne = [rd("Q") for _ in range(nd)]; gt = rd("I"); off = rd("Q")
    infos.append((name, ne, gt, off))
data0 = (pos + 31) // 32 * 32
arch = kv["general.architecture"]
want = {"llama-gqa": "llama", "llama-mha-f16": "llama", "qwen2": "qwen2", "llama2c": "llama"}[fx]
assert arch == want, (arch, want)
for k in ["context_length", "embedding_length", "block_count", "feed_forward_length",
          "attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
          "rope.freq_base", "vocab_size"]:
    assert arch + "." + k in kv, k
assert types[arch + ".attention.layer_norm_rms_epsilon"] == 6 and types[arch + ".block_count"] == 4
n_vocab = kv[arch + ".vocab_size"]
for k in ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type"]:
    assert len(kv[k]) == n_vocab, (k, len(kv[k]), n_vocab)
model = kv["tokenizer.ggml.model"]
assert ("tokenizer.ggml.merges" in kv) == (model == "gpt2") and ("tokenizer.ggml.scores" in kv) == (model == "llama"), model
end = 0
for name, ne, gt, off in infos:
    assert off % 32 == 0, (name, off)
    nbytes = int(np.prod(ne)) * {0: 4, 1: 2}[gt]
    end = max(end, data0 + off + (nbytes + 31) // 32 * 32)
assert end == len(raw), ("size", end, len(raw))
# Values: every tensor equals the harness export's (Q/K rows permuted back for HF llama).
if os.path.exists(os.path.join(export, "model.bin")):
    ref = None   # llama2.c: compared by tools/gguf-compare in the interop test; here the sizes
else:
    hdr_raw = open(os.path.join(export, "model.safetensors"), "rb").read()
    hn = struct.unpack("<Q", hdr_raw[:8])[0]; hdr = json.loads(hdr_raw[8:8 + hn])
    def st(name):
        v = hdr[name]; b = hdr_raw[8 + hn + v["data_offsets"][0]:8 + hn + v["data_offsets"][1]]
        if v["dtype"] == "BF16":   # the top half of an f32
            return (np.frombuffer(b, np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(v["shape"])
        return np.frombuffer(b, {"F32": np.float32, "F16": np.float16}[v["dtype"]]).reshape(v["shape"]).astype(np.float32)
    cfg = json.load(open(os.path.join(export, "config.json")))
    H = cfg["num_attention_heads"]; G = cfg.get("num_key_value_heads", H)
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    per = {"attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
           "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
           "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
           "attn_v.bias": "self_attn.v_proj.bias", "attn_output.weight": "self_attn.o_proj.weight",
           "ffn_norm.weight": "post_attention_layernorm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
           "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight"}
    for name, ne, gt, off in infos:
        if name.startswith("blk."):
            _, i, rest = name.split(".", 2); hf = f"model.layers.{i}.{per[rest]}"
        else:
            hf = names[name]
        a = np.frombuffer(raw, {0: np.float32, 1: np.float16}[gt], int(np.prod(ne)), data0 + off)
        a = a.reshape(list(reversed(ne))).astype(np.float32)
        nh = H if name.endswith("attn_q.weight") else G if name.endswith("attn_k.weight") else 0
        if arch == "llama" and nh:   # GGUF row h*D + 2j + t holds HF row h*D + t*D/2 + j
            a = a.reshape(nh, -1, 2, a.shape[1]).swapaxes(1, 2).reshape(a.shape)
        assert np.array_equal(a, st(hf)), f"{name} differs from {hf}"
print(f"{fx}: {arch}, {nt} tensors, {nkv} keys, {model} tokenizer: ok")
PY
done

# 2. --out forms
"$AH_BIN" quantize --quiet --model "$FIX/llama-gqa" --method rtn --bits 4 --group 32 --format gguf \
  --out "$tmp/dir" >/dev/null 2>"$tmp/err" || { echo "FAIL --out DIR: $(cat "$tmp/err")"; errors=$((errors + 1)); }
[ -s "$tmp/dir/model.gguf" ] && [ -s "$tmp/dir/manifest.json" ] ||
  { echo "FAIL --out DIR: model.gguf and manifest.json expected, got: $(ls "$tmp/dir" 2>&1)"; errors=$((errors + 1)); }
before=$(cksum <"$tmp/llama-gqa.gguf")
"$AH_BIN" quantize --quiet --model "$FIX/llama-gqa" --method fp16 --format gguf --out "$tmp/llama-gqa.gguf" \
  >/dev/null 2>"$tmp/err" || { echo "FAIL fp16 conversion: $(cat "$tmp/err")"; errors=$((errors + 1)); }
[ "$(cksum <"$tmp/llama-gqa.gguf")" != "$before" ] || { echo "FAIL --out X.gguf was not replaced"; errors=$((errors + 1)); }
ls "$tmp" | grep -q '\.tmp\.' && { echo "FAIL temporaries left: $(ls "$tmp")"; errors=$((errors + 1)); }

# 3. refused before any work, in one line, nothing written
expect_error opt-refused 'gguf: llama.cpp architectures .* not opt' -- \
  "$AH_BIN" quantize --model "$FIX/opt" --method minmax --format gguf --out "$tmp/opt.gguf"
[ -e "$tmp/opt.gguf" ] && { echo "FAIL a refused export left $tmp/opt.gguf"; errors=$((errors + 1)); }
expect_error unknown-format "--format: expected one of harness, gguf, .*compressed-tensors, got 'awq-gemm'" -- \
  "$AH_BIN" quantize --model "$FIX/llama-gqa" --method minmax --format awq-gemm --out "$tmp/x"
expect_error fp16-harness 'fp16 quantizes nothing' -- \
  "$AH_BIN" quantize --model "$FIX/llama-gqa" --method fp16 --out "$tmp/x"
mkdir "$tmp/alone" && cp "$FIX/llama2c/model.bin" "$tmp/alone/"   # no tokenizer.bin beside it
expect_error no-tokenizer 'embeds the tokenizer' -- \
  "$AH_BIN" quantize --model "$tmp/alone/model.bin" --method minmax --format gguf --out "$tmp/x.gguf"

[ $errors -eq 0 ] || fail "$errors GGUF export check(s) failed"
echo "GGUF exports parse, carry llama.cpp's keys and the evaluated weights; bad requests refused"
