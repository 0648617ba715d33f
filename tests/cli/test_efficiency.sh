#!/usr/bin/env bash
# test_efficiency.sh — [evaluation] efficiency (experiment/efficiency.h, issue 22) on the
# fixture models (an F32 and an F16 checkpoint), seconds:
#  1. every run of a sweep records weight_bytes, peak_rss_mb, prefill_tok_s, decode_tok_s and
#     eff_threads, positive, as attributes and /summary columns;
#  2. the FP run's weight_bytes = its block linears' parameter count x the checkpoint's dtype
#     size, read from the safetensors headers here; a quantized run's = the packed layout
#     (rows x ceil(cols / codes per byte) + rows x groups x 5), and INT4 g128 < FP / 3;
#  3. `report --metric decode_tok_s` shows the recorded values, higher marked better (bytes:
#     lower);
#  4. `plot --only ppl_vs_size` / `ppl_vs_decode` send every run's (x, ppl) to gnuplot (a
#     wrapper records the script) and draw a PNG;
#  5. bad inputs are one error each: a salient run, a prompt longer than the context, a bad
#     value.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
PY=/usr/bin/python3
$PY -c "import h5py, numpy" 2>/dev/null || skip "numpy and h5py are needed (make deps)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0
err() { echo "FAIL: $*"; errors=$((errors + 1)); }
R=$(pwd)

ini() {   # extra [evaluation] lines, then extra [sweep] lines
  cat <<EOF
[experiment]
name = eff
output = $tmp/eff.h5
cache = $tmp/cache
threads = 2
[model.gqa]
path = $R/tests/fixtures/llama-gqa
[model.f16]
path = $R/tests/fixtures/llama-mha-f16
[calibration]
data = text:$R/tests/fixtures/text/calib.txt
samples = 4
seqlen = 64
[evaluation]
data = text:$R/tests/fixtures/text/eval.txt
seqlen = 64
max_windows = 2
kld = no
efficiency = yes
efficiency_prompt = 16
efficiency_decode = 8
efficiency_reps = 1
$1
[sweep]
method = fp16, minmax, awq
bits = 3, 4
group_size = 128
grid = 5
model = gqa, f16
$2
EOF
}

# ---- 1-2. the records
ini "" "" >"$tmp/eff.ini"
"$AH_BIN" run "$tmp/eff.ini" >"$tmp/o" 2>"$tmp/e" || fail "run: $(cat "$tmp/e")"
$PY - "$tmp/eff.h5" "$R/tests/fixtures" <<'PYEOF' || err "records"
import json, math, os, struct, sys, glob, h5py
f = h5py.File(sys.argv[1], "r")
ok = True
def bad(msg):
    global ok
    print("FAIL:", msg); ok = False

def linears(d):   # name -> (shape, dtype) of the block linears, from the safetensors headers
    out = {}
    for p in sorted(glob.glob(d + "/*.safetensors")):
        if "ref_logits" in p: continue
        b = open(p, "rb").read(8); n = struct.unpack("<Q", b)[0]
        h = json.loads(open(p, "rb").read(8 + n)[8:])
        for k, v in h.items():
            if k.startswith("model.layers.") and k.endswith("_proj.weight"):
                out[k] = (v["shape"], v["dtype"])
    return out
size = {"F32": 4, "F16": 2, "BF16": 2}
lin = {"gqa": linears(sys.argv[2] + "/llama-gqa"), "f16": linears(sys.argv[2] + "/llama-mha-f16")}
if len(lin["gqa"]) != 14 or len(lin["f16"]) != 14: bad(f"linears found: {[len(v) for v in lin.values()]}")

def packed(m, bits, group):
    per = 4 if bits <= 2 else 2 if bits <= 4 else 1
    t = 0
    for shape, _ in lin[m].values():
        rows, cols = shape
        groups = 1 if group < 0 or group >= cols else -(-cols // group)
        t += rows * -(-cols // per) + rows * groups * 5
    return t

s = {r["id"].decode(): r for r in f["summary"][:]}
want = [f"{meth}-m.{m}" for m in ("gqa", "f16") for meth in
        ("fp16", "minmax-w3-g128", "minmax-w4-g128", "awq-w3-g128-search5", "awq-w4-g128-search5")]
for rid in want:
    if rid not in f["runs"]: bad(f"no run {rid}: {sorted(f['runs'])}"); continue
    a = f["runs"][rid].attrs
    for k in ["weight_bytes", "peak_rss_mb", "prefill_tok_s", "decode_tok_s"]:
        if not (k in a and a[k] > 0 and math.isfinite(a[k])): bad(f"{rid}: {k} = {a.get(k)}")
        elif s[rid][k] != a[k]: bad(f"{rid}: /summary {k} {s[rid][k]} != attribute {a[k]}")
    if a.get("eff_threads") != 2 or s[rid]["eff_threads"] != 2: bad(f"{rid}: eff_threads {a.get('eff_threads')}")
    if a.get("eff_prompt_tokens") != 16 or a.get("eff_decode_tokens") != 8: bad(f"{rid}: lengths")
    wait = a.get("eff_omp_wait"); wait = wait.decode() if isinstance(wait, bytes) else wait
    if wait != os.environ.get("OMP_WAIT_POLICY", "passive"): bad(f"{rid}: eff_omp_wait {wait!r}")
    m = rid.split("-m.")[1]
    if rid.startswith("fp16"):
        fp = sum(math.prod(sh) * size[dt] for sh, dt in lin[m].values())
        if a["weight_bytes"] != fp: bad(f"{rid}: weight_bytes {a['weight_bytes']} != params x dtype {fp}")
        if a["eff_kernel"] != b"blas" and a["eff_kernel"] != "blas": bad(f"{rid}: kernel {a['eff_kernel']}")
    else:
        bits = 3 if "-w3-" in rid else 4
        if a["weight_bytes"] != packed(m, bits, 128):
            bad(f"{rid}: weight_bytes {a['weight_bytes']} != packed layout {packed(m, bits, 128)}")
for m in ("gqa", "f16"):
    w4, fp = s[f"minmax-w4-g128-m.{m}"]["weight_bytes"], s[f"fp16-m.{m}"]["weight_bytes"]
    if not w4 * 3 < fp: bad(f"{m}: INT4 g128 {w4} bytes not < FP {fp} / 3")
print("efficiency records:", {k: (int(v["weight_bytes"]), round(float(v["decode_tok_s"]), 1)) for k, v in s.items()})
sys.exit(0 if ok else 1)
PYEOF

# ---- 3. report
rep=$("$AH_BIN" report "$tmp/eff.h5" --metric decode_tok_s --digits 3 2>&1) || err "report --metric decode_tok_s: $rep"
v=$($PY -c "import h5py,sys; print('%.3f' % h5py.File(sys.argv[1])['runs/minmax-w4-g128-m.gqa'].attrs['decode_tok_s'])" "$tmp/eff.h5")
grep -q -- "$v" <<<"$rep" || err "report does not show minmax-w4-g128-m.gqa's decode_tok_s $v: $rep"
grep -q "decode_tok_s (higher is better)" <<<"$rep" || err "report: tokens/s not marked higher is better: $rep"
rep=$("$AH_BIN" report "$tmp/eff.h5" --metric weight_bytes 2>&1) || err "report --metric weight_bytes: $rep"
grep -q "weight_bytes (lower is better)" <<<"$rep" || err "report: bytes not marked lower is better: $rep"

# ---- 4. the plots: what gnuplot is sent, and the figure
if command -v gnuplot >/dev/null; then
  mkdir -p "$tmp/bin"
  printf '#!/bin/sh\ntee -a "%s/gp.txt" | "%s" "$@"\n' "$tmp" "$(command -v gnuplot)" >"$tmp/bin/gnuplot"
  chmod +x "$tmp/bin/gnuplot"
  for k in ppl_vs_size ppl_vs_decode; do
    : >"$tmp/gp.txt"
    PATH="$tmp/bin:$PATH" "$AH_BIN" plot "$tmp/eff.h5" --out "$tmp/plots" --only $k >"$tmp/po" 2>&1 \
      || { err "plot --only $k: $(cat "$tmp/po")"; continue; }
    f="$tmp/plots/eff/$k.png"
    [ "$(head -c 8 "$f" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || err "$k: no PNG at $f: $(cat "$tmp/po")"
    col=$([ $k = ppl_vs_size ] && echo weight_bytes || echo decode_tok_s)
    $PY - "$tmp/eff.h5" "$tmp/gp.txt" $col <<'PYEOF' || err "$k: gnuplot data"
import math, sys, h5py
pts = []   # (x, y) as sent, %.10g: compared within 1e-9 relative (rounding both to a fixed
           # number of decimals would round twice and miss a point now and then)
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) == 4:
        try: pts.append((float(p[0]), float(p[1])))
        except ValueError: pass
scale = 1e-6 if sys.argv[3] == "weight_bytes" else 1.0
close = lambda a, b: math.isclose(a, b, rel_tol=1e-9)
ok = True
for r in h5py.File(sys.argv[1])["summary"][:]:
    want = (float(r[sys.argv[3]]) * scale, float(r["ppl"]))
    if not any(close(x, want[0]) and close(y, want[1]) for x, y in pts):
        print("FAIL: point", r["id"].decode(), want, "not sent to gnuplot"); ok = False
sys.exit(0 if ok else 1)
PYEOF
  done
fi

# ---- 5. bad inputs (one model: a sweep over models reports each model's failure as well)
one() { sed 's/^model = gqa, f16$/model = gqa/'; }
ini "" "salient_pct = 1" | one >"$tmp/bad1.ini"
expect_error "salient run" "efficiency: run .* keeps full-precision columns" -- "$AH_BIN" run --quiet "$tmp/bad1.ini"
ini "" "" | one | sed 's/^efficiency_prompt = 16/efficiency_prompt = 121/' >"$tmp/bad2.ini"
expect_error "prompt too long" "efficiency_prompt \+ efficiency_decode = 129 exceed the model's context \(128\)" -- "$AH_BIN" run --quiet "$tmp/bad2.ini"
ini "" "" | one | sed 's/^efficiency = yes/efficiency = maybe/' >"$tmp/bad3.ini"
expect_error "bad value" "bad3.ini:[0-9]*: .*efficiency" -- "$AH_BIN" run --quiet "$tmp/bad3.ini"

[ $errors -eq 0 ] || exit 1
echo "efficiency: ok"
