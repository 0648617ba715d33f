#!/usr/bin/env bash
# bench/memory.sh — peak resident memory of `eval` (one window) and `quantize --method awq`
# (a small calibration set) on synthetic checkpoints (`awq-harness synth`, F16) at the real
# shapes of configs/models/NAME.config.json, against the layer-major bound (bench/README.md,
# "Memory"). Measures and prints; never fails on the numbers.
#
#   bash bench/memory.sh [NAME ...]      default: $MEM_MODELS or "opt-1.3b llama-2-7b"
#
# Environment: AH_SYNTH_DIR (where the synthetic checkpoints are kept and reused; default
# /tmp/awq-harness-synth; Llama-2-7B needs 13.5 GB), AH_BIN (default ./awq-harness),
# MEM_THREADS (default: all cores), MEM_CALIB_SAMPLES / MEM_CALIB_SEQLEN / MEM_GRID /
# MEM_CLIP (AWQ: default 1 sequence of 128 tokens, alpha grid 2, clip search off, so that
# Llama-2-7B quantizes in about 15 minutes on 2 cores; the grid changes the time, not the
# peak), MEM_RUN (default "eval quantize": which rows to measure).
# Peak resident memory is the kernel's (getrusage ru_maxrss, the same number /usr/bin/time -v
# reports), printed by the harness as peak_rss_mb; mapped checkpoint pages count in it.
# Rows go to bench/results/memory.csv in the common format of bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SYN="${AH_SYNTH_DIR:-/tmp/awq-harness-synth}"
THREADS="${MEM_THREADS:-$(nproc)}"
CS="${MEM_CALIB_SAMPLES:-1}" CL="${MEM_CALIB_SEQLEN:-128}" GRID="${MEM_GRID:-2}" CLIP="${MEM_CLIP:-off}"
RUN="${MEM_RUN:-eval quantize}"
[ $# -gt 0 ] || set -- ${MEM_MODELS:-opt-1.3b llama-2-7b}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bin="$tmp/awq-harness"
cp "${AH_BIN:-./awq-harness}" "$bin"   # a concurrent `make` cannot replace it mid-run
mkdir -p bench/results "$SYN"
csv=bench/results/memory.csv
[ -f "$csv" ] || echo "date,machine,benchmark,metric,value,unit,reference,ratio,command" >"$csv"
machine=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1 | tr ',' ' ')
machine="$machine; $(nproc) cores; $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

# bound ARCH C H G D F V T P N K LOGITS: the layer-major bound in bytes (tools/layer-major-bound,
# bench/README.md): 4 bytes x (one block's weights + hidden states (N, C) + forward activations
# N x (C + 2Q + 2KV + m F) + P attention score matrices (T, T) + logits (T, V) when scoring
# + AWQ's captured linear inputs K x (2C + Q + F) when quantizing).
bound() { tools/layer-major-bound "$@"; }

table=()
row() {   # label peak_mib bound_bytes seconds command
  local ratio; ratio=$(awk -v p="$2" -v b="$3" 'BEGIN { printf "%.2f", p * 1048576 / b }')
  echo "$(date -u +%F),$machine,$1,peak_rss,$2,MiB,$(mib "$3"),$ratio,\"$5\"" >>"$csv"
  table+=("$(printf '%-34s %8s MiB  bound %6s MiB  ratio %5s  %7.1f s  # %s' "$1" "$2" "$(mib "$3")" "$ratio" "$4" "$5")")
}

for name in "$@"; do
  cfg="configs/models/$name.config.json"
  [ -f "$cfg" ] || { echo "memory: $cfg not found (see configs/models/)"; continue; }
  dir="$SYN/$name-f16"
  if ! cmp -s "$cfg" "$dir/config.json" || [ ! -f "$dir/model.safetensors" ]; then
    echo "memory: writing the synthetic checkpoint $dir"
    "$bin" synth --quiet --config "$cfg" --dtype f16 --out "$dir"
  fi
  # Everything the harness holds must fit with room to spare: refuse rather than swap or OOM.
  file_gib=$(du -k "$dir/model.safetensors" | awk '{ printf "%.1f", $1 / 1048576 }')
  avail_gib=$(awk '/MemAvailable/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
  if awk -v a="$avail_gib" -v f="$file_gib" 'BEGIN { exit !(a < 4 + f / 4) }'; then
    echo "memory: $name skipped: $avail_gib GiB available, want $(awk -v f="$file_gib" 'BEGIN{print 4+f/4}') GiB"
    continue
  fi

  # eval, one window of min(2048, max_seq) tokens (run anyway for the model's dimensions,
  # with --max-windows 1 --seqlen 2 when only quantize is asked for: it costs one embedding)
  evargs=(--max-windows 1)
  case " $RUN " in *" eval "*) ;; *) evargs=(--max-windows 1 --seqlen 2) ;; esac
  ecmd="awq-harness eval --model $dir --data ids:$dir/ids.txt --max-windows 1 --threads $THREADS"
  line=$("$bin" eval --model "$dir" --data "ids:$dir/ids.txt" "${evargs[@]}" --threads "$THREADS" \
         2>"$tmp/err" | tail -n 1) || { echo "memory: eval $name failed: $(tail -n 3 "$tmp/err")"; continue; }
  desc=$(sed -n 's/^model: [^(]*(\(.*\), safetensors)$/\1/p' "$tmp/err" | head -n 1)
  # desc: "llama: 32 layers, C=4096, H=32, G=32, D=128, F=11008, V=32000, max_seq=4096"
  arch=${desc%%:*}
  get() { printf '%s\n' "$desc" | tr ',' '\n' | sed -n "s/^ *$1=//p"; }
  C=$(get C) H=$(get H) G=$(get G) D=$(get D) F=$(get F) V=$(get V)
  T=$(kv seqlen "$line")
  b=$(bound "$arch" "$C" "$H" "$G" "$D" "$F" "$V" "$T" "$THREADS" "$T" 0 1)
  case " $RUN " in *" eval "*)
    row "$name eval (1 window of $T)" "$(kv peak_rss_mb "$line" | cut -d. -f1)" "$b" "$(kv seconds "$line")" "$ecmd" ;;
  esac
  case " $RUN " in *" quantize "*) ;; *) continue ;; esac

  # quantize --method awq, CS x CL calibration tokens, search on all of them
  qcmd="awq-harness quantize --model $dir --method awq --bits 4 --group 128 --calib ids:$dir/ids.txt --calib-samples $CS --calib-seqlen $CL --grid $GRID --clip $CLIP --threads $THREADS --out DIR"
  t0=$(date +%s.%N)
  line=$("$bin" quantize --quiet --model "$dir" --method awq --bits 4 --group 128 --calib "ids:$dir/ids.txt" \
         --calib-samples "$CS" --calib-seqlen "$CL" --grid "$GRID" --clip "$CLIP" --threads "$THREADS" --out "$tmp/q" \
         2>"$tmp/err" | tail -n 1) || { echo "memory: quantize $name failed: $(tail -n 3 "$tmp/err")"; continue; }
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  rm -rf "$tmp/q"
  N=$((CS * CL))
  b=$(bound "$arch" "$C" "$H" "$G" "$D" "$F" "$V" "$CL" "$THREADS" "$N" "$N" 0)
  row "$name quantize awq ($CS x $CL calib, clip $CLIP)" "$(kv peak_rss_mb "$line" | cut -d. -f1)" "$b" "$secs" "$qcmd"
done

echo "== memory: peak resident set vs the layer-major bound ($machine)"
for r in "${table[@]}"; do echo "$r"; done
echo "written: $csv"
