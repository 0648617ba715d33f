#!/usr/bin/env bash
# bench/throughput.sh — throughput of `eval` and of the AWQ search against the machine's GEMM
# peak and against the PyTorch references (issue 8). Measures and prints; never fails on time.
#
#   bash bench/throughput.sh            (bench/run.sh calls it; needs /usr/bin/python3 + torch)
#
# Rows (printed as a table, each with the command that reproduces it; CSV in
# bench/results/throughput.csv in the common format of bench/README.md, the 1-minute load
# average and the single runs in the metric field):
#   gemm      sgemm GFLOP/s of the BLAS as the harness links it (bench/gemm_peak), 1 and 2 threads
#   eval      tokens/s of `eval` (C) and of tools/ref_model.py's forward (bench/ref_eval_time.py)
#             on the same random-weight checkpoint, ids, windows and threads; runs alternate
#             C, ref, C, ref, ...; medians of REPS runs; C's achieved GFLOP/s (model FLOPs,
#             bench/README.md) and its % of the GEMM peak measured just before each C run
#             (median of the per-run percentages)
#   awq       seconds of the whole AWQ quantization pass, the scope tools/ref_awq.py's
#             "timing: awq" covers (calibration forward + captures, search, fold, clip, fake
#             quantization): quant_seconds of `eval --method awq` against it, alternating,
#             medians
#   search    the same runs' search + fold + clip alone: awq_seconds against the reference's
#             "(search + clip S s)"
#   scaling   1 vs 2 threads for eval and AWQ (C)
# Environment: REPS (default 3), WINDOWS (eval windows of 2048, default 2), AWQ_SAMPLES
# (default 8 sequences of 512 for the losses), MODELS ("opt llama"), THREADS ("1 2").
# Checkpoints: `./awq-harness synth` (random F16 weights; --layers for the AWQ rows)
# (random fp16 weights at the shapes of configs/ in ../shared/data: OPT-125m and
# SmolLM2-135M for Llama; the AWQ rows use the first 2 layers, the time per layer is the same).
set -uo pipefail
cd "$(dirname "$0")/.."
SHARED="${AH_SHARED_DATA:-../shared/data}"
PY=/usr/bin/python3
REPS=${REPS:-3}; WINDOWS=${WINDOWS:-2}; AWQ_SAMPLES=${AWQ_SAMPLES:-8}
MODELS=${MODELS:-opt llama}; THREADS=${THREADS:-1 2}
OUT=bench/results/throughput.csv
[ -x ./awq-harness ] || { echo "throughput: ./awq-harness not built (make)"; exit 0; }
$PY -c 'import torch' 2>/dev/null || { echo "throughput: $PY has no torch, skipped"; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
BIN="$tmp/awq-harness"; cp ./awq-harness "$BIN"   # a concurrent `make` cannot swap it mid-run
. bench/lib.sh   # csv_open, csv_row, load, median, kv
csv_open "$OUT" "$(lscpu | sed -n 's/^Model name: *//p' | tr -d ',')"
row() { csv_row "$@"; }   # benchmark metric value unit reference command
printf '%-8s %-6s %3s  %-30s  %s\n' metric model thr result "reproduce"

# --- GEMM peak ---------------------------------------------------------------------------
make -s --no-print-directory bench-tools >/dev/null || { echo "make bench-tools failed"; exit 0; }
declare -A PEAK
for t in $THREADS; do
  line=$(build/bench/gemm_peak --threads "$t" | tail -n 1)
  PEAK[$t]=$(kv peak_gflops <<<"$line"); core=$(kv core <<<"$line")
  row "gemm peak $t thr" "sgemm best shape ($core)" "${PEAK[$t]}" GFLOP/s "" "bench/gemm_peak --threads $t"
  printf '%-8s %-6s %3s  %-30s  %s\n' gemm - "$t" "${PEAK[$t]} GFLOP/s ($core)" \
    "make bench-tools && build/bench/gemm_peak --threads $t"
done

# The PyTorch references run on the same OpenBLAS kernel set as the harness (torch 1.13's
# products go through Debian's OpenBLAS, which reads OPENBLAS_CORETYPE; the harness chooses its
# own, core/blas.c), so neither side is measured on the AVX2 kernels while the other has AVX-512.
export OPENBLAS_CORETYPE="$core"
# And with tcmalloc (tools/install-deps --bench), as PyTorch's CPU tuning guides advise: glibc's
# malloc gives every large tensor fresh pages from the kernel, and on the project's machines
# (Firecracker VMs) a first touch costs about 9 us per 4 KiB page, which made the reference's
# elementwise ops 20-30x slower and its eval 5x slower (71 vs 368 tok/s, OPT-125m, 2 threads).
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
if [ -f "$TCMALLOC" ]; then REF_PRELOAD="LD_PRELOAD=$TCMALLOC"
else REF_PRELOAD=""; echo "throughput: $TCMALLOC absent (bash tools/install-deps --bench): the PyTorch references run on glibc malloc"; fi

# --- checkpoints -------------------------------------------------------------------------
make_ckpt() {   # name config layers
  local dir="$tmp/$1"
  "$BIN" synth --quiet --config "$2" --dtype f16 --out "$dir" ${3:+--layers $3} >/dev/null && echo "$dir"
}
declare -A CFG=([opt]="$SHARED/configs/opt-125m.config.json" [llama]="$SHARED/configs/SmolLM2-135M.config.json")
$PY -c "import random; random.seed(1); print(' '.join(str(random.randrange(3, 49000)) for _ in range(2048 * $WINDOWS)))" >"$tmp/ids.txt"
$PY -c "import random; random.seed(2); print(' '.join(str(random.randrange(3, 49000)) for _ in range(512 * 32)))" >"$tmp/calib.txt"

# Model FLOPs per token at window T: bench/model_flops.py (its docstring: linears, LM head,
# causal attention over the mean context).
flops_per_token() { $PY bench/model_flops.py "$1" "$2"; }   # config T

for name in $MODELS; do
  cfg=${CFG[$name]}
  [ -f "$cfg" ] || { echo "throughput: $cfg absent, $name skipped"; continue; }
  dir=$(make_ckpt "$name" "$cfg" "") || continue
  fpt=$(flops_per_token "$cfg" 2048)
  declare -A CTPS=()
  for t in $THREADS; do
    cs=(); rs=(); pks=(); pcts=()
    ccmd="./awq-harness eval --quiet --model DIR --data ids:IDS --seqlen 2048 --max-windows $WINDOWS --threads $t"
    rcmd="OPENBLAS_CORETYPE=$core $REF_PRELOAD $PY bench/ref_eval_time.py --model DIR --ids IDS --seqlen 2048 --max-windows $WINDOWS --threads $t"
    for i in $(seq "$REPS"); do   # alternating: GEMM peak, C, ref, GEMM peak, C, ref, ...
      # The peak again just before each C run: this VM's speed drifts by 5-10% within an hour
      # (bench/README.md), so each run is set against the peak of its own minute.
      pk1=$(build/bench/gemm_peak --threads "$t" --reps 3 | tail -n 1 | kv peak_gflops)
      v=$("$BIN" eval --quiet --model "$dir" --data "ids:$tmp/ids.txt" --seqlen 2048 \
            --max-windows "$WINDOWS" --threads "$t" | tail -n 1 | kv tok_per_s)
      cs+=("$v"); pks+=("$pk1")
      pcts+=("$(awk -v a="$v" -v f="$fpt" -v p="$pk1" 'BEGIN {printf "%.1f", 100 * a * f / 1e9 / p}')")
      v=$(env $REF_PRELOAD $PY bench/ref_eval_time.py --model "$dir" --ids "$tmp/ids.txt" --seqlen 2048 \
            --max-windows "$WINDOWS" --threads "$t" | tail -n 1 | kv tok_per_s)
      rs+=("$v")
    done
    c=$(printf '%s\n' "${cs[@]}" | median); r=$(printf '%s\n' "${rs[@]}" | median)
    CTPS[$t]=$c
    gf=$(awk -v a="$c" -v f="$fpt" 'BEGIN {printf "%.1f", a * f / 1e9}')
    pk=$(printf '%s\n' "${pks[@]}" | median)
    pct=$(printf '%s\n' "${pcts[@]}" | median)   # median of the per-run percentages
    ratio=$(awk -v a="$c" -v b="$r" 'BEGIN {printf "%.2f", a / b}')
    row "eval $name $t thr" "tok/s C vs PyTorch median (C $(echo ${cs[*]} | tr ' ' '/') ref $(echo ${rs[*]} | tr ' ' '/'))" "$c" tok/s "$r" "$ccmd  vs  $rcmd"
    row "eval $name $t thr" "achieved GFLOP/s vs GEMM peak beside each run (peaks $(echo ${pks[*]} | tr ' ' '/'); per-run % $(echo ${pcts[*]} | tr ' ' '/'), median ${pct}%)" "$gf" GFLOP/s "$pk" "$ccmd"
    printf '%-8s %-6s %3s  %-30s  %s\n' eval "$name" "$t" "C $c tok/s, ref $r (${ratio}x)" "$ccmd  vs  $rcmd"
    printf '%-8s %-6s %3s  %-30s  %s\n' eval "$name" "$t" "$gf GFLOP/s, ${pct}% of peak (median per run)" "(model FLOPs x tok/s over the GEMM peak measured before each run; bench/README.md)"
  done
  if [ -n "${CTPS[1]:-}" ] && [ -n "${CTPS[2]:-}" ]; then
    row "scaling $name eval" "tok/s 2 threads vs 1" "${CTPS[2]}" tok/s "${CTPS[1]}" "(eval rows)"
    printf '%-8s %-6s %3s  %-30s  %s\n' scaling "$name" 1-2 "eval $(awk -v a="${CTPS[2]}" -v b="${CTPS[1]}" 'BEGIN {printf "%.2f", a / b}')x" "(rows above)"
  fi

  # AWQ on the first 2 layers (same shapes; seconds per layer are what compare)
  dir2=$(make_ckpt "$name-l2" "$cfg" 2) || continue
  declare -A CAWQ=()
  for t in $THREADS; do
    cs=(); rs=()
    ccmd="./awq-harness eval --quiet --model DIR2 --data ids:IDS --seqlen 2048 --max-windows 1 --threads $t --method awq --bits 4 --group 128 --calib ids:CALIB --calib-samples 32 --calib-pick first --awq-samples $AWQ_SAMPLES"
    rcmd="OPENBLAS_CORETYPE=$core $REF_PRELOAD $PY tools/ref_awq.py --model DIR2 --calib-ids CALIB --calib-seqlen 512 --calib-samples 32 --awq-samples $AWQ_SAMPLES --ids IDS --seqlen 2048 --max-windows 1 --bits 4 --group 128 --threads $t"
    as=(); ras=()
    for i in $(seq "$REPS"); do
      line=$("$BIN" eval --quiet --model "$dir2" --data "ids:$tmp/ids.txt" --seqlen 2048 --max-windows 1 \
            --threads "$t" --method awq --bits 4 --group 128 --calib "ids:$tmp/calib.txt" \
            --calib-samples 32 --calib-pick first --awq-samples "$AWQ_SAMPLES" | tail -n 1)
      cs+=("$(kv quant_seconds <<<"$line")"); as+=("$(kv awq_seconds <<<"$line")")
      # "timing: awq W s (search + clip S s), ...": W the whole pass, S search + fold + clip
      tl=$(env $REF_PRELOAD $PY tools/ref_awq.py --model "$dir2" --calib-ids "$tmp/calib.txt" --calib-seqlen 512 \
            --calib-samples 32 --awq-samples "$AWQ_SAMPLES" --ids "$tmp/ids.txt" --seqlen 2048 \
            --max-windows 1 --bits 4 --group 128 --threads "$t" 2>&1 >/dev/null | grep '^timing: awq')
      rs+=("$(sed -n 's/^timing: awq \([0-9.]*\) s.*/\1/p' <<<"$tl")")
      ras+=("$(sed -n 's/^timing: awq [0-9.]* s (search + clip \([0-9.]*\) s).*/\1/p' <<<"$tl")")
    done
    c=$(printf '%s\n' "${cs[@]}" | median); r=$(printf '%s\n' "${rs[@]}" | median)
    ca=$(printf '%s\n' "${as[@]}" | median); ra=$(printf '%s\n' "${ras[@]}" | median)
    CAWQ[$t]=$c
    row "awq $name $t thr" "quant pass seconds C vs PyTorch median (C $(echo ${cs[*]} | tr ' ' '/') ref $(echo ${rs[*]} | tr ' ' '/'))" "$c" s "$r" "$ccmd  vs  $rcmd"
    row "awq search $name $t thr" "search + fold + clip seconds C (awq_seconds) vs PyTorch median (C $(echo ${as[*]} | tr ' ' '/') ref $(echo ${ras[*]} | tr ' ' '/'))" "$ca" s "$ra" "$ccmd  vs  $rcmd"
    printf '%-8s %-6s %3s  %-30s  %s\n' awq "$name" "$t" "C $c s, ref $r s ($(awk -v a="$r" -v b="$c" 'BEGIN {printf "%.2f", a / b}')x)" "$ccmd  vs  $rcmd"
    printf '%-8s %-6s %3s  %-30s  %s\n' search "$name" "$t" "C $ca s, ref $ra s ($(awk -v a="$ra" -v b="$ca" 'BEGIN {if (b > 0) printf "%.2f", a / b}')x)" "(same runs: search + fold + clip alone)"
  done
  if [ -n "${CAWQ[1]:-}" ] && [ -n "${CAWQ[2]:-}" ]; then
    row "scaling $name awq" "seconds 1 thread vs 2" "${CAWQ[1]}" s "${CAWQ[2]}" "(awq rows)"
    printf '%-8s %-6s %3s  %-30s  %s\n' scaling "$name" 1-2 "awq $(awk -v a="${CAWQ[1]}" -v b="${CAWQ[2]}" 'BEGIN {printf "%.2f", a / b}')x" "(rows above)"
  fi
done
echo "written: $OUT (load average now $(load); DIR = checkpoint from awq-harness synth, IDS / CALIB = random ids)"
