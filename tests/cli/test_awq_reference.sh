#!/usr/bin/env bash
# test_awq_reference.sh — the C AWQ against the independent PyTorch reference
# (tools/ref_awq.py, results committed in tests/fixtures/awq/ by tools/make-awq-fixtures):
# for every fixture family and configuration (3 and 4 bits, group 32, rules search / duo /
# fixed, clip on / off, propagate fp / quantized) the C harness must choose the same alpha for
# every scaling group of every layer, and give the same final perplexity within 1e-3.
#
# Known near-ties. The two implementations capture the same activations up to the last fp32
# bit (torch's LayerNorm / attention and ours sum in different orders), so x_mean, the scales
# and W * s differ in the last bit too. That matters where clipping clamps a group
# symmetrically to +-t: minmax then has scale = 2t / (2^b - 1), so the clamped weights sit
# exactly on a rounding midpoint (+-3.5 at 3 bits) and a last-bit difference decides how every
# one of them rounds (measured: OPT layer 0 v_proj row 58, max |w| 0.0821202844 in C vs
# 0.0821202695 in PyTorch; clip error at shrink 0.95: 0.002309 vs 0.001556). Three
# configurations meet such a case; with propagate = quantized it also shifts the next layer's
# inputs. For those the test checks instead that every differing alpha is a near-tie on the
# reference's own loss curve (within 2% of its minimum) and that perplexities agree within 1e-2:
#   llama2c-b4-g32-search-clip-propq  layer 1 qkv: C 0.25, ref 0.35 (ref losses 0.0015429 vs
#                                     0.0015372, +0.4%)
#   opt-b4-g32-search-clip-propq      layer 1 o: C 0.7, ref 0.3 (ref losses 0.0009443 vs
#                                     0.0009312, +1.4%; C's own curve: 0.0009218 vs 0.000926)
#   opt-b3-g32-duo-clip               alphas equal; clip of layer 0 v_proj row 58 (k = 0 vs 1):
#                                     ppl 1821.35 vs 1830.88 (0.5%)
NEAR_TIES="llama2c-b4-g32-search-clip-propq.json opt-b4-g32-search-clip-propq.json opt-b3-g32-duo-clip.json"
#
# Other BLAS kernel sets. The list above was measured with OpenBLAS's SkylakeX kernels, which
# the harness picks on every AVX-512 CPU (core/blas.c). On an AVX2-only CPU it runs the Haswell
# kernels, whose GEMMs sum in another order, and other configurations meet the same rounding
# midpoints (measured on an AMD EPYC Zen 3, Haswell kernels, 2026-12-06: llama-mha-f16-b3-g32-
# duo-clip ppl 1465.02 vs 1467.16, 0.15%; llama-mha-f16-b4-g32-search-clip-propq layer 1 qkv
# C 0.6 vs ref 0.45, +1.4% on the reference's curve; opt-b4-g32-search-clip-propq layer 1 fc2
# C 0.15 vs ref 0.2, +4.4%, after layer 0's quantized output moved). There, a configuration
# that fails the exact check is held to the near-tie rule instead, with 5% for the groups of
# layers after the first under propagate = quantized (their inputs come from a quantized layer
# whose rounding moved, so the reference's curve is of slightly other inputs). Every
# configuration so judged is printed; the exact check still holds for all the others.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 (reads the JSON expectations) absent"
FIX=tests/fixtures
# One line per expected file: file, model args, method args, expected alphas, expected ppl.
plan=$(/usr/bin/python3 - "$FIX" <<'PY'
import glob, json, os, sys
fix = sys.argv[1]
for path in sorted(glob.glob(os.path.join(fix, "awq", "*.json"))):
    d = json.load(open(path))
    c = d["config"]
    name = os.path.basename(d["model"].rstrip("/"))
    if d["model"].endswith(".bin"):
        margs = f"--model {d['model']} --tokenizer {os.path.dirname(d['model'])}/tokenizer.bin"
    else:
        margs = f"--model {d['model']}"
    a = [f"--bits {c['bits']}", f"--group {c['group']}", f"--scale-rule {c['rule']}",
         f"--clip {c['clip']}", f"--propagate {c['propagate']}", f"--awq-samples {c['awq_samples']}"]
    if c["alpha"] is not None:
        a.append(f"--alpha {c['alpha']}")
    cal = d["calib"]
    a += [f"--calib text:{cal['source']}", f"--calib-samples {len(cal['blocks'])}",
          f"--calib-seqlen {cal['seqlen']}", "--calib-pick first"]
    assert cal["blocks"] == list(range(len(cal["blocks"]))), "C picks the first blocks only"
    alphas = ",".join(f"{g['alpha']:g}" for L in d["layers"] for g in L["groups"].values())
    print(f"{path}|{margs}|{' '.join(a)}|{alphas}|{d['ppl']}|{d['eval']['seqlen']}")
PY
) || fail "could not read the expectations"
n=0; errors=0; k=0
# near_tie FILE ALPHAS: every alpha of ALPHAS equals the reference's or is a near-tie on the
# reference's loss curve (2%; 5% for layers after the first under propagate = quantized).
near_tie() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); got = [float(x) for x in sys.argv[2].split(",")]
propq = d["config"]["propagate"] == "quantized"
groups = [(L["layer"], g) for L in d["layers"] for g in L["groups"].values()]
assert len(got) == len(groups), "group count differs"
for a, (layer, g) in zip(got, groups):
    if abs(a - g["alpha"]) > 1e-9:
        i = min(range(len(g["grid"])), key=lambda k: abs(g["grid"][k] - a))
        tol = 1.05 if propq and layer > 0 else 1.02
        assert g["loss"][i] <= min(g["loss"]) * tol, f"alpha {a} is not a near-tie of {g['alpha']}"
PY
}
# near_tie_check WHY: the current configuration ($file, $base, $got_alphas, $got_ppl, ...) by
# the near-tie rule, with ppl within 1e-2.
near_tie_check() {
  if ! near_tie "$file" "$got_alphas"; then
    echo "MISMATCH $base: alphas $got_alphas are not near-ties of $want_alphas ($1)"; errors=$((errors + 1))
  elif [ -z "$got_ppl" ] || ! rel_close "$got_ppl" "$want_ppl" 1e-2; then
    echo "MISMATCH $base ($1): ppl C $got_ppl, reference $want_ppl"; errors=$((errors + 1))
  fi
}
core=""; judged=0
# AH_QUICK=1 (the sanitizer pass of `make test-asan`): every 5th configuration; the normal pass
# checks them all. Memory errors do not depend on which alpha wins.
while IFS='|' read -r file margs args want_alphas want_ppl seqlen; do
  k=$((k + 1))
  if [ -n "${AH_QUICK:-}" ] && [ $((k % 5)) -ne 1 ]; then continue; fi
  n=$((n + 1))
  # shellcheck disable=SC2086
  line=$("$AH_BIN" eval --quiet $margs --data "text:$FIX/text/eval.txt" --seqlen "$seqlen" \
         --method awq $args 2>&1 | tail -n 1)
  got_alphas=$(kv alphas "$line"); got_ppl=$(kv ppl "$line")
  base=$(basename "$file")
  core=$(kv blas_core "$line")
  if [[ " $NEAR_TIES " == *" $base "* ]]; then near_tie_check "known near-tie"; continue; fi
  exact=1
  { [ "$got_alphas" = "$want_alphas" ] && [ -n "$got_ppl" ] && rel_close "$got_ppl" "$want_ppl" 1e-3; } || exact=0
  if [ $exact -eq 1 ]; then
    [ -n "${AH_VERBOSE:-}" ] && echo "ok $base: alphas $got_alphas ppl $got_ppl (reference $want_ppl)"
  elif [ "$core" != SkylakeX ]; then
    judged=$((judged + 1))
    echo "near-tie rule on $core kernels: $base: alphas C $got_alphas, reference $want_alphas; ppl C $got_ppl, reference $want_ppl"
    near_tie_check "$core kernels"
  elif [ "$got_alphas" != "$want_alphas" ]; then
    echo "MISMATCH $base: alphas C $got_alphas, reference $want_alphas"; errors=$((errors + 1))
  else
    echo "MISMATCH $base: ppl C $got_ppl, reference $want_ppl"; errors=$((errors + 1))
  fi
done <<<"$plan"
[ "$n" -gt 0 ] || fail "no expectation files in $FIX/awq"

# The chosen scales themselves (not only alpha): quantize --method awq writes awq.safetensors;
# every applied group's scales must equal the reference's within 1e-4 (fp32 last-bit noise).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for cfg in llama-mha-f16-b4-g32-search-clip opt-b3-g32-search-noclip llama2c-b3-g32-duo-noclip; do
  IFS='|' read -r file margs args _ _ _ < <(grep "/$cfg.json|" <<<"$plan")
  # shellcheck disable=SC2086
  "$AH_BIN" quantize --quiet $margs --method awq $args --out "$tmp/$cfg" >/dev/null 2>"$tmp/err" ||
    { echo "MISMATCH $cfg: quantize failed: $(cat "$tmp/err")"; errors=$((errors + 1)); continue; }
  /usr/bin/python3 - "$file" "$tmp/$cfg/awq.safetensors" <<'PY' || errors=$((errors + 1))
import json, struct, sys
import numpy as np
d = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
def tensor(name):
    h = hdr[name]; b, e = h["data_offsets"]
    return np.frombuffer(raw[8 + n + b:8 + n + e], dtype=np.float32)
worst = 0.0
for L in d["layers"]:
    for g, r in L["groups"].items():
        got = tensor(f"layers.{L['layer']}.{g}.scales"); want = np.asarray(r["scales"], np.float32)
        rel = float(np.max(np.abs(got - want) / np.abs(want)))
        worst = max(worst, rel)
if worst > 1e-4:
    print(f"MISMATCH {sys.argv[1]}: scales differ by up to {worst:.3g} relative"); sys.exit(1)
PY
done
[ $errors -eq 0 ] || fail "$errors of $n AWQ configurations differ from the reference"
echo "C AWQ matches the PyTorch reference ($core kernels): $n configurations, alphas exact and ppl within 1e-3 except the 3 listed near-ties and $judged judged by the near-tie rule"
