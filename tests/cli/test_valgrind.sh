#!/usr/bin/env bash
# test_valgrind.sh — memcheck over short quantize-and-eval runs on the llama-gqa fixture: no
# invalid read/write, no use of uninitialised values, no definitely-lost block, on the success
# paths (quantize rtn + export, eval of the exported checkpoint, eval with AWQ search and with
# GPTQ) and on two error paths (a hostile safetensors header, activations that overflow).
#
# One thread (OMP_NUM_THREADS=1, --threads 1): libgomp's thread pool and OpenBLAS's buffers are
# reachable at exit, never "definitely lost", so --errors-for-leak-kinds=definite needs no
# suppression file. The sanitizer build cannot run under valgrind: skipped there.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
command -v valgrind >/dev/null || skip "valgrind is not installed (make deps installs it)"
case "$AH_BIN" in *asan*) skip "valgrind cannot run the sanitizer build $AH_BIN (ASan has its own checks)";; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FIX=tests/fixtures
TEXT=$FIX/text/eval.txt
CALIB=$FIX/text/calib.txt
export OMP_NUM_THREADS=1
# Set, so the harness does not start itself again to set it (main.c): an exec under valgrind
# without --trace-children would run the command outside memcheck.
export OMP_WAIT_POLICY=passive
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)   # add --track-origins=yes to locate an uninitialised value

# vg NAME WANT_RC COMMAND...: runs COMMAND under memcheck; valgrind's own findings exit 99.
vg() {
  local name="$1" want="$2"; shift 2
  local t0=$SECONDS
  "${VG[@]}" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -eq 99 ] || grep -q '^==[0-9]*==' "$tmp/err"; then
    sed 's/^/    /' "$tmp/err" | head -60
    fail "$name: valgrind reports errors (exit $rc)"
  fi
  [ $rc -eq "$want" ] || { sed 's/^/    /' "$tmp/err" | tail -5; fail "$name: exit $rc, want $want"; }
  echo "ok   $name ($((SECONDS - t0)) s under valgrind)"
}
common=(--threads 1 --seqlen 64 --max-windows 2 --data "text:$TEXT")
calib=(--calib "text:$CALIB" --calib-samples 2 --calib-seqlen 64)

vg quantize-rtn-export 0 "$AH_BIN" quantize --quiet --threads 1 --model "$FIX/llama-gqa" --method rtn \
  --bits 4 --group 32 "${calib[@]}" --out "$tmp/q"
vg eval-exported 0 "$AH_BIN" eval --quiet --model "$tmp/q" "${common[@]}"
grep -q '^ppl=' "$tmp/out" || fail "eval-exported: no ppl= line"
vg eval-awq-search 0 "$AH_BIN" eval --quiet --model "$FIX/llama-gqa" "${common[@]}" --method awq \
  --bits 4 --group 32 --grid 2 --clip off "${calib[@]}"
vg eval-gptq 0 "$AH_BIN" eval --quiet --model "$FIX/llama-gqa" "${common[@]}" --method gptq \
  --bits 3 --group 32 "${calib[@]}"

# Error paths: a header whose offsets overlap, and finite weights that overflow the activations.
/usr/bin/python3 - "$FIX/llama-gqa" "$tmp" <<'EOF' || fail "could not build the damaged inputs"
import json, shutil, struct, sys
src, out = sys.argv[1], sys.argv[2]
b = open(src + '/model.safetensors', 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h, data = json.loads(b[8:8 + n]), b[8 + n:]
def write(name, hdr, dat):
    shutil.copytree(src, out + '/' + name)
    t = json.dumps(hdr).encode()
    open(out + '/' + name + '/model.safetensors', 'wb').write(struct.pack('<Q', len(t)) + t + dat)
o = json.loads(json.dumps(h)); o['model.norm.weight']['data_offsets'] = [0, 256]
write('overlap', o, data)
b0, b1 = h['model.layers.0.mlp.up_proj.weight']['data_offsets']
write('overflow', h, data[:b0] + struct.pack('<f', 3e38) * ((b1 - b0) // 4) + data[b1:])
EOF
vg error-overlap 1 "$AH_BIN" eval --quiet --model "$tmp/overlap" "${common[@]}"
grep -q 'data_offsets overlap' "$tmp/err" || fail "error-overlap: unexpected message: $(cat "$tmp/err")"
vg error-overflow 1 "$AH_BIN" eval --quiet --model "$tmp/overflow" "${common[@]}"
grep -q 'layer 0 .*non-finite activation' "$tmp/err" || fail "error-overflow: unexpected message: $(cat "$tmp/err")"
echo "valgrind: memcheck clean on 4 runs and 2 error paths"
