#!/usr/bin/env bash
# bench/generate.sh — decoding and prefill speed and memory of the harness's own generation
# (fp32 blocks, and packed INT8 / INT4 / INT3 codes: `bench-generate`) against llama.cpp's
# llama-bench on the same synthetic weights, plus a STREAM-style copy bandwidth, which bounds
# decoding (every weight is read once per token). Issue 22.
#
# Runs alternate: repetition r runs every configuration once before repetition r + 1 starts,
# so a load that comes and goes on a shared machine hits all configurations alike; the value of
# a row is the median over BENCH_REPS repetitions. Rows go to bench/results/generate.csv in the
# common format (bench/README.md), with the machine's load average in the metric column.
#
# Environment: BENCH_SHAPES (default "smollm2-135m"; also tinyllama-1.1b, llama-2-7b: configs/
# models/NAME.config.json, synthesized F16 once into $BENCH_TMP), BENCH_THREADS (2), BENCH_PP
# (64), BENCH_TG (64), BENCH_REPS (5), BENCH_LLAMA=0 to leave llama.cpp out.
# llama.cpp rows need tools/llama-cpp (built on first use: minutes); its F16 file is our GGUF
# export of the F16 checkpoint (the family's tokenizer copied from ../shared/data/tokenizers),
# Q8_0 / Q4_0 / Q4_1 need llama-quantize (not among tools/llama-cpp's targets yet: skipped).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${AH_BIN:-./awq-harness}
SHAPES=${BENCH_SHAPES:-smollm2-135m}; THR=${BENCH_THREADS:-2}; PP=${BENCH_PP:-64}; TG=${BENCH_TG:-64}
REPS=${BENCH_REPS:-5}; TMP=${BENCH_TMP:-/tmp/awq-harness-bench-generate}
mkdir -p "$TMP" bench/results
CSV=bench/results/generate.csv
[ -f "$CSV" ] || echo "date,machine,benchmark,metric,value,unit,reference,ratio,command" >"$CSV"
machine="$(lscpu | sed -n 's/^Model name: *//p' | head -n1); $(nproc) cores"
today=$(date -u +%F)
load() { cut -d' ' -f1 /proc/loadavg; }
row() {   # benchmark metric value unit reference command
  local ratio=""
  [ -n "$5" ] && ratio=$(awk -v a="$3" -v b="$5" 'BEGIN{if (b > 0) printf "%.3f", a / b}')
  echo "$today,$machine,$1,$2 (load $(load)),$3,$4,$5,$ratio,\"$6\"" >>"$CSV"
  printf '%-48s %-22s %10s %-8s ref %10s ratio %s\n' "$1" "$2" "$3" "$4" "$5" "$ratio"
}
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

# --- memory bandwidth: STREAM-style copy ------------------------------------------------------
cc -O2 -fopenmp bench/stream.c -o "$TMP/stream" || exit 1
bw=$(OMP_NUM_THREADS=$THR "$TMP/stream" 256 10 | kv copy_gb_per_s_best)
row "stream copy $THR thr (256 MiB arrays)" "best of 10" "$bw" "GB/s" "" "cc -O2 -fopenmp bench/stream.c -o stream && OMP_NUM_THREADS=$THR ./stream 256 10"

LB=""
if [ "${BENCH_LLAMA:-1}" != 0 ]; then LB=$(bash tools/llama-cpp 2>/dev/null) || LB=""; fi
for shape in $SHAPES; do
  cfg=configs/models/$shape.config.json; dir=$TMP/$shape
  [ -f "$dir/model.safetensors" ] || "$BIN" synth --quiet --config "$cfg" --out "$dir" --ids 0 --threads "$THR" >/dev/null || exit 1
  # configurations: name | bench-generate arguments
  declare -a NAMES=(fp32 int8-g128 int4-g128 int3-g128) ARGS=(
    ""
    "--method minmax --bits 8 --group 128 --packed"
    "--method minmax --bits 4 --group 128 --packed"
    "--method minmax --bits 3 --group 128 --packed")
  declare -A DEC=() PRE=() LINE=()
  # llama.cpp files: F16 from our GGUF export of the F16 checkpoint (it needs a tokenizer: the
  # family's real one from ../shared/data/tokenizers), the others from llama-quantize when built
  declare -A TOKDIR=([smollm2-135m]=smollm [tinyllama-1.1b]=llama2 [llama-2-7b]=llama2)
  tk=${AH_SHARED_DATA:-../shared/data}/tokenizers/${TOKDIR[$shape]:-none}
  [ -f "$dir/tokenizer.json" ] || cp "$tk"/tokenizer*.json "$dir/" 2>/dev/null
  declare -a LNAMES=()
  if [ -n "$LB" ]; then
    [ -f "$dir/F16.gguf" ] || "$BIN" quantize --model "$dir" --method fp16 --format gguf --out "$dir/F16.gguf" --threads "$THR" >/dev/null 2>&1
    [ -f "$dir/F16.gguf" ] && LNAMES+=(F16) || echo "generate: no GGUF of $dir (no tokenizer in $tk?): llama.cpp rows skipped"
    if [ -x "$LB/llama-quantize" ]; then
      for t in Q8_0 Q4_0 Q4_1; do
        [ -f "$dir/$t.gguf" ] || "$LB/llama-quantize" "$dir/F16.gguf" "$dir/$t.gguf" "$t" "$THR" >/dev/null 2>&1
        [ -f "$dir/$t.gguf" ] && LNAMES+=("$t")
      done
    fi
  fi
  for r in $(seq "$REPS"); do
    for i in "${!NAMES[@]}"; do
      out=$("$BIN" bench-generate --model "$dir" --prompt-tokens "$PP" --gen-tokens "$TG" --reps 1 --threads "$THR" ${ARGS[$i]} 2>/dev/null | tail -n 1)
      DEC[${NAMES[$i]}]+="$(echo "$out" | kv decode_tok_per_s) "
      PRE[${NAMES[$i]}]+="$(echo "$out" | kv prefill_tok_per_s) "
      LINE[${NAMES[$i]}]=$out
    done
    for t in "${LNAMES[@]}"; do   # llama-bench: tg and pp of one repetition, same threads
      j=$("$LB/llama-bench" -m "$dir/$t.gguf" -p "$PP" -n "$TG" -t "$THR" -r 1 -o json 2>/dev/null)
      DEC[ll-$t]+="$(printf '%s' "$j" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print([x['avg_ts'] for x in d if x['n_gen'] > 0][0])") "
      PRE[ll-$t]+="$(printf '%s' "$j" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print([x['avg_ts'] for x in d if x['n_prompt'] > 0][0])") "
    done
  done
  fp_dec=$(echo "${DEC[fp32]}" | tr ' ' '\n' | grep . | median)
  fp_pre=$(echo "${PRE[fp32]}" | tr ' ' '\n' | grep . | median)
  q41=""; [ -n "${DEC[ll-Q4_1]:-}" ] && q41=$(echo "${DEC[ll-Q4_1]}" | tr ' ' '\n' | grep . | median)
  for n in "${NAMES[@]}"; do
    d=$(echo "${DEC[$n]}" | tr ' ' '\n' | grep . | median); p=$(echo "${PRE[$n]}" | tr ' ' '\n' | grep . | median)
    a=${ARGS[$(printf '%s\n' "${NAMES[@]}" | grep -nx "$n" | cut -d: -f1) - 1]}
    cmd="awq-harness bench-generate --model DIR --prompt-tokens $PP --gen-tokens $TG --reps 1 --threads $THR $a"
    bpt=$(echo "${LINE[$n]}" | kv bytes_per_token); rss=$(echo "${LINE[$n]}" | kv peak_rss_mb)
    row "$shape $n tg$TG $THR thr" "decode, median of $REPS" "$d" "tok/s" "$fp_dec" "$cmd"
    [ -n "$q41" ] && row "$shape $n tg$TG vs llama.cpp Q4_1" "decode, median of $REPS" "$d" "tok/s" "$q41" "$cmd"
    row "$shape $n pp$PP $THR thr" "prefill, median of $REPS" "$p" "tok/s" "$fp_pre" "$cmd"
    bound=$(awk -v b="$bpt" -v g="$bw" 'BEGIN{if (b > 0) printf "%.2f", g * 1e9 / b}')
    row "$shape $n decode vs bandwidth bound" "bytes/token $bpt" "$d" "tok/s" "$bound" "$cmd"
    row "$shape $n peak RSS" "whole process" "$rss" "MiB" "" "$cmd"
  done
  for t in "${LNAMES[@]}"; do
    d=$(echo "${DEC[ll-$t]}" | tr ' ' '\n' | grep . | median); p=$(echo "${PRE[ll-$t]}" | tr ' ' '\n' | grep . | median)
    row "$shape llama.cpp $t tg$TG $THR thr" "decode, median of $REPS" "$d" "tok/s" "$fp_dec" "llama-bench -m $t.gguf -p $PP -n $TG -t $THR -r 1"
    row "$shape llama.cpp $t pp$PP $THR thr" "prefill, median of $REPS" "$p" "tok/s" "$fp_pre" "llama-bench -m $t.gguf -p $PP -n $TG -t $THR -r 1"
  done
  unset DEC PRE LINE
done
