#!/usr/bin/env bash
# test_blas_core.sh — the harness chooses OpenBLAS's kernel set itself (core/blas.c,
# AH_BLAS_CORE), whatever OpenBLAS detected or OPENBLAS_CORETYPE asked for:
#  1. default (auto) with OPENBLAS_CORETYPE=Haswell in the environment: SkylakeX on a CPU with
#     AVX-512 F/CD/BW/DQ/VL, Haswell on one with AVX2 + FMA only (read from /proc/cpuinfo);
#  2. AH_BLAS_CORE=openblas keeps OpenBLAS's choice (here the Haswell it was told);
#  3. AH_BLAS_CORE=NAME forces a set (Haswell, which every AVX2 CPU runs);
#  4. an unknown name fails with one line naming it, before any work.
# Under valgrind (no AVX-512 in its virtual CPU) auto would pick Haswell; this test runs the
# binary natively.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
if has avx512f avx512cd avx512bw avx512dq avx512vl; then want=SkylakeX
elif has avx2 fma; then want=Haswell
else skip "CPU has neither AVX-512 nor AVX2: auto keeps OpenBLAS's choice, nothing to check"; fi

ev() {   # eval of the llama-gqa fixture; prints the key=value line
  "$AH_BIN" eval --quiet --model tests/fixtures/llama-gqa --data text:tests/fixtures/text/eval.txt \
    --seqlen 64 --max-windows 2 | tail -n 1
}
[ -f tests/fixtures/text/eval.txt ] || fail "tests/fixtures/text/eval.txt missing"

got=$(OPENBLAS_CORETYPE=Haswell ev) || fail "eval failed"
[ "$(kv blas_core "$got")" = "$want" ] || { echo "FAIL auto: blas_core=$(kv blas_core "$got"), want $want"; errors=$((errors + 1)); }
ppl_auto=$(kv ppl "$got")

got=$(AH_BLAS_CORE=openblas OPENBLAS_CORETYPE=Haswell ev) || fail "eval failed"
[ "$(kv blas_core "$got")" = Haswell ] || { echo "FAIL openblas: blas_core=$(kv blas_core "$got"), want Haswell"; errors=$((errors + 1)); }

got=$(AH_BLAS_CORE=Haswell OPENBLAS_CORETYPE= ev) || fail "eval failed"
[ "$(kv blas_core "$got")" = Haswell ] || { echo "FAIL named: blas_core=$(kv blas_core "$got"), want Haswell"; errors=$((errors + 1)); }
# Another kernel set sums in another order: the same perplexity to about 6 digits, no more.
rel_close "$(kv ppl "$got")" "$ppl_auto" 1e-5 || { echo "FAIL: ppl $(kv ppl "$got") on Haswell vs $ppl_auto"; errors=$((errors + 1)); }

expect_error "unknown kernel set" "AH_BLAS_CORE=NoSuchCore" -- env AH_BLAS_CORE=NoSuchCore \
  "$AH_BIN" eval --quiet --model tests/fixtures/llama-gqa --data text:tests/fixtures/text/eval.txt

[ "$errors" -eq 0 ] || fail "$errors of the kernel-choice checks failed"
echo "ok: auto picks $want over OPENBLAS_CORETYPE=Haswell; openblas, named and unknown sets behave"
