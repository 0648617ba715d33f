#!/usr/bin/env bash
# test_reliability_model.sh — checkpoint and config.json inputs of the second reliability round
# (docs/reliability.md, "Second round"), built here from the committed fixtures:
#   1. legal safetensors files whose header length puts the data at odd (F16, BF16) or
#      non-multiple-of-4 (F32) addresses evaluate to exactly the perplexity of the aligned file,
#      with no sanitizer report (run under make test-asan: a uint16_t / float load at such an
#      address is undefined behaviour, which UBSan reports);
#   2. safetensors data buffers with a gap or trailing bytes are refused, as the reference
#      implementation refuses them; a zero-size tensor on a boundary is legal; the exporter's
#      files tile their buffer exactly;
#   3. config.json: rope_theta and rms_norm_eps outside sane ranges name the field, and a
#      config.json over 16 MiB is refused by its size before it is read;
#   4. GGUF files (built from the fixtures' GGUF exports): truncated (header, data), bad magic
#      and version, absurd tensor and array counts, an unreadable (Q4_K) or unknown tensor type,
#      a misaligned or out-of-file tensor offset, another architecture, a tensor whose dims
#      contradict the metadata, a missing tensor and an unknown pre-tokenizer each give one line
#      naming the file and the tensor or key.
# Errors must be exactly one "awq-harness: ..." line naming the file (tests/cli/lib.sh).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
PY=/usr/bin/python3
$PY -c "import json, numpy" 2>/dev/null || skip "needs /usr/bin/python3 and python3-numpy to build the inputs"
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
FIX=$(pwd)/tests/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TEXT=$FIX/text/eval.txt
C=$tmp/c
errors=0 cases=0
mkdir "$C"

# ppl of an eval (tokenizer from the unmodified fixture), or "error: <stderr>".
eval_ppl() {
  local out
  if out=$("$AH_BIN" eval --quiet --model "$1" --tokenizer "$FIX/$2" --data "text:$TEXT" \
             --seqlen 64 --max-windows 4 2>"$tmp/err"); then
    kv ppl "$(printf '%s\n' "$out" | grep '^ppl=')"
  else
    echo "error: $(cat "$tmp/err")"
  fi
}
eval_on() { "$AH_BIN" eval --quiet --model "$1" --tokenizer "$FIX/${2:-llama-gqa}" \
  --data "text:$TEXT" --seqlen 64 --max-windows 4; }
# same_ppl NAME DIR FIXTURE REFERENCE_PPL: DIR evaluates to exactly REFERENCE_PPL.
same_ppl() {
  cases=$((cases + 1))
  local got; got=$(eval_ppl "$2" "$3")
  if [ "$got" != "$4" ]; then
    echo "FAIL $1: ppl $got, want $4 (the aligned file's)"; errors=$((errors + 1))
  elif [ -n "${AH_VERBOSE:-}" ]; then echo "ok   $1: ppl $got"; fi
}

cat >"$tmp/gen.py" <<'EOF'
import json, os, shutil, struct, sys
from pathlib import Path

FIX, OUT = Path(sys.argv[1]), Path(sys.argv[2])

def split(b):
    n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]

def join(header, data, hlen_mod=None):
    """A safetensors file; hlen_mod = (m, r): header padded with spaces to length = r mod m."""
    h = json.dumps(header, separators=(',', ':')).encode()
    if hlen_mod:
        m, r = hlen_mod
        h += b' ' * ((r - len(h)) % m)
    return struct.pack('<Q', len(h)) + h + data

def copy(name, base):
    shutil.copytree(FIX / base, OUT / name)
    return OUT / name

def restore_shards(name, base, fn):
    """Copy of fixture base with fn(header, data) -> bytes applied to every .safetensors."""
    for f in sorted(copy(name, base).glob('model*.safetensors')):
        f.write_bytes(fn(*split(f.read_bytes())))

def bf16(header, data):
    """F16 tensors as BF16 (round to nearest even), in the same order."""
    import numpy as np
    out_h, out_d, off = {}, b'', 0
    for k, v in sorted(((k, v) for k, v in header.items() if k != '__metadata__'),
                       key=lambda kv: kv[1]['data_offsets'][0]):
        b0, b1 = v['data_offsets']
        raw = data[b0:b1]
        if v['dtype'] == 'F16':
            u = np.frombuffer(raw, '<f2').astype('<f4').view('<u4').astype(np.uint64)
            raw = ((u + 0x7fff + ((u >> 16) & 1)) >> 16).astype('<u2').tobytes()
            v = dict(v, dtype='BF16')
        out_h[k] = dict(v, data_offsets=[off, off + len(raw)])
        out_d += raw
        off += len(raw)
    return out_h, out_d

# 1. misaligned data: odd header length (F16, BF16), 2 mod 4 (F32)
restore_shards('f16-odd-header', 'llama-mha-f16', lambda h, d: join(h, d, (2, 1)))
restore_shards('bf16-aligned', 'llama-mha-f16', lambda h, d: join(*bf16(h, d), (8, 0)))
restore_shards('bf16-odd-header', 'llama-mha-f16', lambda h, d: join(*bf16(h, d), (2, 1)))
restore_shards('f32-header-2mod4', 'llama-gqa', lambda h, d: join(h, d, (4, 2)))

# 2. data buffer layout (llama-gqa: model.norm.weight F32 [64] is last, at [625664, 625920])
HDR, DATA = split((FIX / 'llama-gqa/model.safetensors').read_bytes())
def st_case(name, header, data):
    (copy(name, 'llama-gqa') / 'model.safetensors').write_bytes(join(header, data))
h = json.loads(json.dumps(HDR))
h['model.norm.weight']['data_offsets'] = [625668, 625924]          # 4 unused bytes before it
st_case('st-gap', h, DATA[:625664] + b'\0' * 4 + DATA[625664:])
st_case('st-trailing-bytes', HDR, DATA + b'\0' * 16)
h = json.loads(json.dumps(HDR))
for k, v in h.items():
    if k != '__metadata__':
        v['data_offsets'] = [v['data_offsets'][0] + 8, v['data_offsets'][1] + 8]
st_case('st-gap-at-start', h, b'\0' * 8 + DATA)
h = json.loads(json.dumps(HDR))
h['extra.empty'] = {'dtype': 'F32', 'shape': [0, 4], 'data_offsets': [625664, 625664]}
st_case('st-empty-tensor-on-boundary', h, DATA)                     # legal

# 3. config.json
def cfg_case(name, **kv):
    cfg = copy(name, 'llama-gqa') / 'config.json'
    c = json.loads(cfg.read_bytes())
    c.update(kv)
    cfg.write_text(json.dumps(c, indent=2))
    return cfg
cfg_case('cfg-rope-theta-tiny', rope_theta=1e-45)
cfg_case('cfg-rope-theta-huge', rope_theta=1e30)
cfg_case('cfg-eps-tiny', rms_norm_eps=1e-30)
cfg_case('cfg-eps-huge', rms_norm_eps=10.0)
with open(cfg_case('cfg-17mib'), 'ab') as f:             # valid JSON padded with 17 MiB of blanks
    f.write(b' ' * (17 << 20))
os.truncate(copy('cfg-1200mb', 'llama-gqa') / 'config.json', 1200 * 1000 * 1000)   # sparse
EOF
$PY "$tmp/gen.py" "$FIX" "$C" || fail "could not build the inputs"

# ---- 1. misaligned tensor data: same perplexity, no sanitizer report
ref_f16=$(eval_ppl "$FIX/llama-mha-f16" llama-mha-f16)
ref_f32=$(eval_ppl "$FIX/llama-gqa" llama-gqa)
ref_bf16=$(eval_ppl "$C/bf16-aligned" llama-mha-f16)
case "$ref_f16$ref_f32$ref_bf16" in *error*) fail "reference evals failed: $ref_f16 / $ref_f32 / $ref_bf16";; esac
same_ppl f16-odd-header "$C/f16-odd-header" llama-mha-f16 "$ref_f16"
same_ppl bf16-odd-header "$C/bf16-odd-header" llama-mha-f16 "$ref_bf16"
same_ppl f32-header-2mod4 "$C/f32-header-2mod4" llama-gqa "$ref_f32"

# ---- 2. data buffer layout
expect_error st-gap "st-gap/model\.safetensors: tensor 'model\.norm\.weight': data_offsets begin 625668 leaves 4 bytes unused after tensor '.*' \(tensors must cover the data buffer without gaps\)" -- eval_on "$C/st-gap"
expect_error st-trailing-bytes "st-trailing-bytes/model\.safetensors: 16 trailing bytes after the last tensor's data \(the tensors cover 625920 of the 625936-byte data buffer\)" -- eval_on "$C/st-trailing-bytes"
expect_error st-gap-at-start "st-gap-at-start/model\.safetensors: tensor '.*': data_offsets begin 8 leaves 8 bytes unused after the buffer start" -- eval_on "$C/st-gap-at-start"
same_ppl st-empty-tensor-on-boundary "$C/st-empty-tensor-on-boundary" llama-gqa "$ref_f32"

# The exporter's files (fake-quantized checkpoint, single file and the F16 shards, and the
# packed quantized.safetensors) pass the same rule: re-read by eval, and checked here in Python.
for fx in llama-gqa llama-mha-f16; do
  cases=$((cases + 1))
  out=$tmp/export-$fx
  if ! "$AH_BIN" quantize --quiet --model "$FIX/$fx" --method rtn --bits 4 --group 32 --out "$out" \
       >/dev/null 2>"$tmp/err"; then
    echo "FAIL export-$fx: quantize: $(cat "$tmp/err")"; errors=$((errors + 1)); continue
  fi
  got=$(eval_ppl "$out" "$fx")
  case "$got" in error*) echo "FAIL export-$fx: eval of the export: $got"; errors=$((errors + 1)); continue;; esac
  $PY - "$out"/*.safetensors <<'PY' || { echo "FAIL export-$fx: a file does not tile its data buffer"; errors=$((errors + 1)); }
import json, struct, sys
for p in sys.argv[1:]:
    b = open(p, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    spans = sorted(tuple(v['data_offsets']) for k, v in json.loads(b[8:8 + n]).items() if k != '__metadata__')
    end = 0
    for s, e in spans:
        assert s == end, (p, s, end)
        end = e
    assert end == len(b) - 8 - n, (p, end, len(b) - 8 - n)
PY
done

# ---- 3. config.json
CFG='config\.json: field'
expect_error cfg-rope-theta-tiny "cfg-rope-theta-tiny/$CFG 'rope_theta' = 1e-45 out of range \[1, 1e\+12\]" -- eval_on "$C/cfg-rope-theta-tiny"
expect_error cfg-rope-theta-huge "cfg-rope-theta-huge/$CFG 'rope_theta' = 1e\+30 out of range" -- eval_on "$C/cfg-rope-theta-huge"
expect_error cfg-eps-tiny "cfg-eps-tiny/$CFG 'rms_norm_eps' = 1e-30 out of range \[1e-12, 1\]" -- eval_on "$C/cfg-eps-tiny"
expect_error cfg-eps-huge "cfg-eps-huge/$CFG 'rms_norm_eps' = 10 out of range" -- eval_on "$C/cfg-eps-huge"
expect_error cfg-17mib "cfg-17mib/config\.json: [0-9]+ bytes, larger than the 16 MiB a config\.json may be" -- eval_on "$C/cfg-17mib"
expect_error cfg-1200mb "cfg-1200mb/config\.json: 1200000000 bytes, larger than the 16 MiB a config\.json may be" -- eval_on "$C/cfg-1200mb"

# ---- 4. GGUF files (io/gguf_read.c, model/gguf_model.c, text/tok_gguf.c): each damage one
# line naming the file and, where there is one, the tensor or key.
G=$tmp/g
mkdir "$G"
if "$AH_BIN" quantize --quiet --model "$FIX/llama-gqa" --method fp16 --format gguf --out "$G/ok.gguf" >/dev/null 2>"$tmp/err" &&
   "$AH_BIN" quantize --quiet --model "$FIX/qwen2" --method fp16 --format gguf --out "$G/qwen2.gguf" >/dev/null 2>"$tmp/err"; then
  $PY - "$G" <<'PY' || { echo "FAIL gguf: building the damaged files"; errors=$((errors + 1)); }
import struct, sys
d = sys.argv[1]
raw = open(d + "/ok.gguf", "rb").read()
# Field positions of the header (what each damage below patches).
pos, kv, ti = 24, {}, {}
def u(fmt, at): return struct.unpack_from("<" + fmt, raw, at)[0]
def skip_value(t, at):
    if t == 8: return at + 8 + u("Q", at)
    if t == 9:
        et, n = u("I", at), u("Q", at + 4); at += 12
        for _ in range(n): at = skip_value(et, at)
        return at
    return at + {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}[t]
for _ in range(u("Q", 16)):
    n = u("Q", pos); key = raw[pos + 8:pos + 8 + n].decode(); pos += 8 + n
    t = u("I", pos); kv[key] = pos + 4; pos = skip_value(t, pos + 4)
for _ in range(u("Q", 8)):
    n = u("Q", pos); name = raw[pos + 8:pos + 8 + n].decode(); pos += 8 + n
    nd = u("I", pos); pos += 4 + 8 * nd
    ti[name] = pos; pos += 12          # u32 type at pos, u64 offset at pos + 4
def put(name, b): open(d + "/" + name + ".gguf", "wb").write(b)
def patch(at, fmt, v, src=raw):
    return src[:at] + struct.pack("<" + fmt, v) + src[at + struct.calcsize("<" + fmt):]
q = ti["blk.0.attn_q.weight"]
put("truncated-data", raw[:len(raw) // 2])
put("truncated-header", raw[:q + 2])
put("bad-magic", b"GGUX" + raw[4:])
put("bad-version", patch(4, "I", 7))
put("tensor-count", patch(8, "Q", 1 << 40))
put("array-count", patch(kv["tokenizer.ggml.tokens"] + 4, "Q", 1 << 60))
put("type-q4k", patch(q, "I", 12))
put("type-unknown", patch(q, "I", 77))
put("misaligned", patch(q + 4, "Q", u("Q", q + 4) + 2))
put("outside", patch(q + 4, "Q", 1 << 50))
a = kv["general.architecture"] + 8
assert raw[a:a + 5] == b"llama"
put("arch-gemma", raw[:a] + b"gemma" + raw[a + 5:])
put("shape", patch(kv["llama.feed_forward_length"], "I", 64))   # 172 in the file
n = raw.find(b"output_norm.weight")
put("missing-tensor", raw[:n] + b"outxut" + raw[n + 6:])
qr = open(d + "/qwen2.gguf", "rb").read()
p = qr.find(b"tokenizer.ggml.pre")
v = qr.find(b"gpt-2", p)
assert 0 < v - p < 48
put("pre-unknown", qr[:v] + b"gpt-9" + qr[v + 5:])
PY
else
  echo "FAIL gguf: the exports to damage: $(cat "$tmp/err")"; errors=$((errors + 1))
fi
gguf_eval() { "$AH_BIN" eval --quiet --model "$1" --data "text:$TEXT" --seqlen 64 --max-windows 2; }
GX="$G/[a-z0-9-]*\\.gguf"
expect_error gguf-truncated-data "$GX: tensor '.*' data \\[[0-9]+, [0-9]+\\) lies outside the file \\([0-9]+ bytes; truncated\\?\\)" -- gguf_eval "$G/truncated-data.gguf"
expect_error gguf-truncated-header "$GX: truncated: tensor 'blk\\.0\\.attn_q\\.weight' needs 4 bytes at offset [0-9]+; the file has [0-9]+ bytes" -- gguf_eval "$G/truncated-header.gguf"
expect_error gguf-bad-magic "$GX: not a GGUF file \\(bad magic" -- gguf_eval "$G/bad-magic.gguf"
expect_error gguf-bad-version "$GX: GGUF version 7: versions 2 and 3 are read" -- gguf_eval "$G/bad-version.gguf"
expect_error gguf-tensor-count "$GX: tensor count 1099511627776 cannot fit a file of [0-9]+ bytes" -- gguf_eval "$G/tensor-count.gguf"
expect_error gguf-array-count "$GX: key 'tokenizer\\.ggml\\.tokens': an array of 1152921504606846976 elements cannot fit" -- gguf_eval "$G/array-count.gguf"
expect_error gguf-type-q4k "$GX: tensor 'blk\\.0\\.attn_q\\.weight' has ggml type Q4_K: F32, F16, BF16, Q4_0, Q4_1 and Q8_0 are read" -- gguf_eval "$G/type-q4k.gguf"
expect_error gguf-type-unknown "$GX: tensor 'blk\\.0\\.attn_q\\.weight' has ggml type id 77: F32, F16, BF16, Q4_0, Q4_1 and Q8_0 are read" -- gguf_eval "$G/type-unknown.gguf"
expect_error gguf-misaligned "$GX: tensor 'blk\\.0\\.attn_q\\.weight' data offset [0-9]+ is not a multiple of the alignment 32" -- gguf_eval "$G/misaligned.gguf"
expect_error gguf-outside "$GX: tensor 'blk\\.0\\.attn_q\\.weight' data \\[[0-9]+, [0-9]+\\) lies outside the file" -- gguf_eval "$G/outside.gguf"
expect_error gguf-arch "$GX: general\\.architecture 'gemma': llama and qwen2 files are read" -- gguf_eval "$G/arch-gemma.gguf"
expect_error gguf-shape "$GX: tensor 'blk\\.0\\.ffn_gate\\.weight' has ggml dims \\[64, 172\\]; the metadata implies \\[64, 64\\]" -- gguf_eval "$G/shape.gguf"
expect_error gguf-missing-tensor "$GX: tensor 'output_norm\\.weight' missing" -- gguf_eval "$G/missing-tensor.gguf"
expect_error gguf-pre-unknown "$GX: tokenizer\\.ggml\\.pre 'gpt-9' is not read here \\(gpt-2, smollm and qwen2 are\\)" -- gguf_eval "$G/pre-unknown.gguf"
expect_error gguf-tokenize-bad-magic "$GX: not a GGUF file" -- "$AH_BIN" tokenize --tokenizer "$G/bad-magic.gguf" --data "text:$TEXT"

[ $errors -eq 0 ] || fail "$errors of $cases case(s) misbehaved"
echo "all $cases checkpoint and config.json cases behaved"
