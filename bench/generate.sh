#!/usr/bin/env bash
# bench/generate.sh — decoding and prefill speed and memory of the harness's own generation
# (fp32 blocks, and packed INT8 / INT4 / INT3 codes: `bench-generate`) against llama.cpp's
# llama-bench (F32, F16, Q8_0, Q4_0, Q4_1) on the same synthetic weights, plus a STREAM-style
# copy bandwidth, which bounds decoding (every weight is read once per token), and the packed
# prefill linears against the fp32 ones (bench/packed_gemm). Issue 22.
#
# Each harness run warms up first (bench-generate's default --warmup 1: the prompt and one token
# untimed), as llama-bench does before its timed runs.
# Runs alternate: repetition r runs every configuration once before repetition r + 1 starts,
# so a load that comes and goes on a shared machine hits all configurations alike; the value of
# a row is the median over BENCH_REPS repetitions. Rows go to bench/results/generate.csv in the
# common format (bench/README.md), with the machine's load average in the metric column.
#
# The same model files: the shape is synthesized once in F32 and once in F16 (same seed: the
# F16 file holds the F32 values rounded). The harness runs the F32 file (fp32, and packed
# INT8 / INT4 / INT3 g128 quantized from it) and the F16 file (f16-ckpt: widened to fp32
# blocks, the harness computes in fp32; f16-int4-g128: packed INT4 g128 quantized from it).
# The LM head stays as stored (packed/head.c), so an INT4 model of the F32 file reads an F32
# head and one of the F16 file an F16 head, as the 16-bit checkpoints people quantize (and
# AutoAWQ's exports) have: f16-int4-g128's ratio is to f16-ckpt, the fp32 decode of the same
# file, and to Q4_1-F16emb. llama.cpp runs GGUFs written by the harness's own export of those
# files: F32 and F16 (`--format gguf`), Q8_0 (`--method rtn --bits 8 --group 32 --format
# gguf-q8_0`), Q4_0 (rtn 4-bit g32, gguf-q4_0) and Q4_1 (minmax 4-bit g32, gguf-q4_1): llama.cpp
# computes with the very codes the harness would (block formats need an F32 checkpoint, and
# keep its F32 embedding, which is the tied head). Q4_1-F16emb is llama.cpp's own
# `llama-quantize --token-embedding-type f16 --output-tensor-type f16` of the F16 GGUF: Q4_1
# blocks (its own codes) with the F16 head of f16-int4-g128.
#
# Environment: BENCH_SHAPES (default "smollm2-135m"; also tinyllama-1.1b, llama-2-7b: configs/
# models/NAME.config.json, synthesized once into $BENCH_TMP), BENCH_THREADS (2), BENCH_PP
# (64), BENCH_TG (64), BENCH_REPS (5), BENCH_LLAMA=0 to leave llama.cpp out, BENCH_OMP_WAIT
# (active; passive: the harness's default policy), BENCH_CONFIGS (the harness rows, default
# "fp32 f16-ckpt int8-g128 int4-g128 int3-g128 f16-int4-g128") and BENCH_GGUFS (llama.cpp's,
# default "F32 F16 Q8_0 Q4_0 Q4_1 Q4_1-F16emb"): the Llama-2-7B shape fits this machine's disk
# only as BENCH_CONFIGS=int4-g128 BENCH_GGUFS=Q4_1 or BENCH_CONFIGS=f16-int4-g128
# BENCH_GGUFS=Q4_1-F16emb (its F32 checkpoint alone is 27 GB, the F16 one 13.5 GB; each is
# synthesized only when a selected row reads it; its fp32 decode does not fit in 24 GiB).
# llama.cpp rows need tools/llama-cpp (built on first use: minutes) and the family's tokenizer
# (copied from ../shared/data/tokenizers: our GGUF export writes the tokenizer into the file).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${AH_BIN:-./awq-harness}
SHAPES=${BENCH_SHAPES:-smollm2-135m}; THR=${BENCH_THREADS:-2}; PP=${BENCH_PP:-64}; TG=${BENCH_TG:-64}
REPS=${BENCH_REPS:-5}; TMP=${BENCH_TMP:-/tmp/awq-harness-bench-generate}
# The harness's OpenMP threads wait passively by default (main.c: kind to a shared machine);
# llama.cpp's threads spin. Decoding runs a few hundred small parallel regions per token, and a
# passive wait costs a futex wake in each: on the idle machine INT4 decoding measured 21.4
# tok/s passive against 68.2 active (2026-12-06). Both sides spin here, the same policy;
# BENCH_OMP_WAIT=passive measures the default.
OMP_WAIT=${BENCH_OMP_WAIT:-active}
. bench/lib.sh   # csv_open, csv_row, load, median, kv
med() { echo "${1:-}" | tr ' ' '\n' | grep . | median; }   # the median of a list of words
mkdir -p "$TMP"
csv_open bench/results/generate.csv "$(lscpu | sed -n 's/^Model name: *//p' | head -n1); $(nproc) cores"
row() {   # benchmark metric value unit reference command: the CSV row, and printed
  csv_row "$@"
  printf '%-48s %-22s %10s %-8s ref %10s ratio %s\n' "$1" "$2" "$3" "$4" "$5" "$CSV_RATIO"
}

# --- memory bandwidth: STREAM-style copy ------------------------------------------------------
make -s --no-print-directory bench-tools >/dev/null || exit 1   # build/bench/: stream, packed_gemm
bw=$(OMP_NUM_THREADS=$THR build/bench/stream 256 10 | kv copy_gb_per_s_best)
row "stream copy $THR thr (256 MiB arrays)" "best of 10" "$bw" "GB/s" "" "make bench-tools && OMP_NUM_THREADS=$THR build/bench/stream 256 10"

# --- the packed prefill linears against the fp32 ones: tokens/s through the linears of 30
# SmolLM2-135M blocks (N prompt rows; best of 3 alternating calls; bench/packed_gemm.c)
for t in 1 "$THR"; do
  build/bench/packed_gemm --threads "$t" --reps 3 --rows 4,8,16,64 | grep '^rows=' | while read -r l; do
    n=$(echo "$l" | kv rows)
    pk=$(awk -v n="$n" -v ms="$(echo "$l" | kv packed_ms)" 'BEGIN{printf "%.1f", n * 1000 / ms}')
    fp=$(awk -v n="$n" -v ms="$(echo "$l" | kv fp32_ms)" 'BEGIN{printf "%.1f", n * 1000 / ms}')
    row "smollm2-135m prefill linears N=$n INT4 g128 $t thr" "packed vs fp32 sgemm, best of 3" "$pk" "tok/s" "$fp" \
      "make bench-tools && build/bench/packed_gemm --threads $t --reps 3 --rows 4,8,16,64"
  done
done

LB=""; GGUF_PY=""
if [ "${BENCH_LLAMA:-1}" != 0 ]; then
  LB=$(bash tools/llama-cpp 2>/dev/null) || LB=""
  GGUF_PY=$(bash tools/peers/venv 2>/dev/null)/bin/python || GGUF_PY=""
fi
for shape in $SHAPES; do
  cfg=configs/models/$shape.config.json; dir=$TMP/$shape; d32=$TMP/$shape-f32
  # configurations: name | model directory | bench-generate arguments (BENCH_CONFIGS selects)
  declare -a ALLN=(fp32 f16-ckpt int8-g128 int4-g128 int3-g128 f16-int4-g128)
  declare -a ALLD=("$d32" "$dir" "$d32" "$d32" "$d32" "$dir") ALLA=(
    ""
    ""
    "--method minmax --bits 8 --group 128 --packed"
    "--method minmax --bits 4 --group 128 --packed"
    "--method minmax --bits 3 --group 128 --packed"
    "--method minmax --bits 4 --group 128 --packed")
  # each configuration's references: the harness's fp32 decode of the same file, llama.cpp's
  # Q4_1 with the same head dtype
  declare -A REF=([f16-int4-g128]=f16-ckpt) QREF=([f16-int4-g128]=Q4_1-F16emb)
  declare -a NAMES=() DIRS=() ARGS=()
  for i in "${!ALLN[@]}"; do
    [[ " ${BENCH_CONFIGS:-${ALLN[*]}} " == *" ${ALLN[$i]} "* ]] || continue
    NAMES+=("${ALLN[$i]}"); DIRS+=("${ALLD[$i]}"); ARGS+=("${ALLA[$i]}")
  done
  # llama.cpp files: name | source directory | quantize arguments (BENCH_GGUFS selects)
  declare -a LNAMES=() LALL=(${BENCH_GGUFS:-F32 F16 Q8_0 Q4_0 Q4_1 Q4_1-F16emb})
  # the F16 file when a selected row reads it, the F32 one likewise
  if [[ " ${DIRS[*]} " == *" $dir "* || " ${LALL[*]} " == *" F16"* || " ${LALL[*]} " == *"-F16emb "* ]]; then
    [ -f "$dir/model.safetensors" ] || "$BIN" synth --quiet --config "$cfg" --out "$dir" --ids 0 --threads "$THR" >/dev/null || exit 1
  fi
  if [[ " ${DIRS[*]} " == *" $d32 "* || " ${LALL[*]} " =~ \ (F32|Q8_0|Q4_0|Q4_1)\  ]]; then
    [ -f "$d32/model.safetensors" ] || "$BIN" synth --quiet --config "$cfg" --out "$d32" --dtype f32 --ids 0 --threads "$THR" >/dev/null || exit 1
  fi
  declare -A DEC=() PRE=() LINE=()
  declare -A TOKDIR=([smollm2-135m]=smollm [tinyllama-1.1b]=llama2 [llama-2-7b]=llama2)
  tk=${AH_SHARED_DATA:-../shared/data}/tokenizers/${TOKDIR[$shape]:-none}
  for dd in "$dir" "$d32"; do [ -d "$dd" ] && [ ! -f "$dd/tokenizer.json" ] && cp "$tk"/tokenizer*.json "$dd/" 2>/dev/null; done
  declare -A LSRC=([F32]=$d32 [F16]=$dir [Q8_0]=$d32 [Q4_0]=$d32 [Q4_1]=$d32 [Q4_1-F16emb]=$dir) LARGS=(
    [F32]="--method fp16 --format gguf" [F16]="--method fp16 --format gguf"
    [Q8_0]="--method rtn --bits 8 --group 32 --format gguf-q8_0"
    [Q4_0]="--method rtn --bits 4 --group 32 --format gguf-q4_0"
    [Q4_1]="--method minmax --bits 4 --group 32 --format gguf-q4_1")
  if [ -n "$LB" ]; then
    for t in "${LALL[@]}"; do
      f=$TMP/$shape-$t.gguf
      if [ "$t" = Q4_1-F16emb ]; then   # llama-quantize's Q4_1 of the F16 GGUF, F16 head
        [ -f "$TMP/$shape-F16.gguf" ] || "$BIN" quantize --model "$dir" ${LARGS[F16]} --out "$TMP/$shape-F16.gguf" --threads "$THR" >/dev/null 2>&1
        [ -f "$f" ] || "$LB/llama-quantize" --token-embedding-type f16 --output-tensor-type f16 "$TMP/$shape-F16.gguf" "$f" Q4_1 "$THR" >/dev/null 2>&1
      else
        [ -f "$f" ] || "$BIN" quantize --model "${LSRC[$t]}" ${LARGS[$t]} --out "$f" --threads "$THR" >/dev/null 2>&1
      fi
      [ -f "$f" ] && LNAMES+=("$t") || echo "generate: no $t GGUF of ${LSRC[$t]} (no tokenizer in $tk?): its llama.cpp row skipped"
    done
  fi
  for r in $(seq "$REPS"); do
    for i in "${!NAMES[@]}"; do
      out=$(OMP_WAIT_POLICY=$OMP_WAIT "$BIN" bench-generate --model "${DIRS[$i]}" --prompt-tokens "$PP" --gen-tokens "$TG" --reps 1 --threads "$THR" ${ARGS[$i]} 2>/dev/null | tail -n 1)
      DEC[${NAMES[$i]}]+="$(echo "$out" | kv decode_tok_per_s) "
      PRE[${NAMES[$i]}]+="$(echo "$out" | kv prefill_tok_per_s) "
      LINE[${NAMES[$i]}]=$out
    done
    for t in "${LNAMES[@]}"; do   # llama-bench: tg and pp of one repetition, same threads
      j=$("$LB/llama-bench" -m "$TMP/$shape-$t.gguf" -p "$PP" -n "$TG" -t "$THR" -r 1 -o json 2>/dev/null)
      DEC[ll-$t]+="$(printf '%s' "$j" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print([x['avg_ts'] for x in d if x['n_gen'] > 0][0])") "
      PRE[ll-$t]+="$(printf '%s' "$j" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print([x['avg_ts'] for x in d if x['n_prompt'] > 0][0])") "
    done
  done
  fp_dec=$(med "${DEC[fp32]:-}"); fp_pre=$(med "${PRE[fp32]:-}")
  for n in "${NAMES[@]}"; do
    d=$(med "${DEC[$n]}"); p=$(med "${PRE[$n]}")
    a=${ARGS[$(printf '%s\n' "${NAMES[@]}" | grep -nx "$n" | cut -d: -f1) - 1]}
    src=F32; [[ "$n" == f16-* ]] && src=F16
    cmd="OMP_WAIT_POLICY=$OMP_WAIT awq-harness bench-generate --model $shape-$src-DIR --prompt-tokens $PP --gen-tokens $TG --reps 1 --threads $THR $a"
    bpt=$(echo "${LINE[$n]}" | kv bytes_per_token); rss=$(echo "${LINE[$n]}" | kv peak_rss_mb)
    rn=${REF[$n]:-fp32}; q=${QREF[$n]:-Q4_1}
    ref_dec=$(med "${DEC[$rn]:-}"); ref_pre=$(med "${PRE[$rn]:-}"); q41=$(med "${DEC[ll-$q]:-}")
    row "$shape $n tg$TG $THR thr" "decode vs harness $rn, median of $REPS" "$d" "tok/s" "$ref_dec" "$cmd"
    [ -n "$q41" ] && row "$shape $n tg$TG vs llama.cpp $q" "decode, median of $REPS" "$d" "tok/s" "$q41" "$cmd"
    row "$shape $n pp$PP $THR thr" "prefill vs harness $rn, median of $REPS" "$p" "tok/s" "$ref_pre" "$cmd"
    bound=$(awk -v b="$bpt" -v g="$bw" 'BEGIN{if (b > 0) printf "%.2f", g * 1e9 / b}')
    row "$shape $n decode vs bandwidth bound" "bytes/token $bpt" "$d" "tok/s" "$bound" "$cmd"
    row "$shape $n peak RSS" "whole process" "$rss" "MiB" "" "$cmd"
  done
  for t in "${LNAMES[@]}"; do
    d=$(med "${DEC[ll-$t]}"); p=$(med "${PRE[ll-$t]}")
    row "$shape llama.cpp $t tg$TG $THR thr" "decode, median of $REPS" "$d" "tok/s" "$fp_dec" "llama-bench -m $t.gguf -p $PP -n $TG -t $THR -r 1"
    row "$shape llama.cpp $t pp$PP $THR thr" "prefill, median of $REPS" "$p" "tok/s" "$fp_pre" "llama-bench -m $t.gguf -p $PP -n $TG -t $THR -r 1"
    # bytes per token: every tensor but an untied embedding table (bench/gguf_bytes_per_token.py,
    # gguf-py of the peers' venv); without that venv, the whole file (tied: the same up to metadata)
    fb=""; what="tensors read"
    [ -n "$GGUF_PY" ] && fb=$("$GGUF_PY" bench/gguf_bytes_per_token.py "$TMP/$shape-$t.gguf" 2>/dev/null)
    [ -n "$fb" ] || { fb=$(stat -c %s "$TMP/$shape-$t.gguf"); what="file"; }
    bound=$(awk -v b="$fb" -v g="$bw" 'BEGIN{if (b > 0) printf "%.2f", g * 1e9 / b}')
    row "$shape llama.cpp $t decode vs bandwidth bound" "bytes/token $fb ($what)" "$d" "tok/s" "$bound" "llama-bench -m $t.gguf -p $PP -n $TG -t $THR -r 1"
  done
  unset DEC PRE LINE LSRC LARGS REF QREF
done
