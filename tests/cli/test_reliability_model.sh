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
#      config.json over 16 MiB is refused by its size before it is read.
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

[ $errors -eq 0 ] || fail "$errors of $cases case(s) misbehaved"
echo "all $cases checkpoint and config.json cases behaved"
