#!/usr/bin/env bash
# bench/peers.sh — the harness against the real peers (issue 25), side by side on one machine:
#
#   eval   `awq-harness eval --protocol llamacpp` against llama.cpp's `llama-perplexity` on the
#          same GGUF-exported weights (the harness's own `quantize --method fp16 --format gguf`
#          export of the same checkpoint), the same text (WikiText-2 test), the same windows
#          (--seqlen/-c 2048, --max-windows/--chunks W), the same threads. Both score the second
#          half of each window (llama.cpp's protocol), so the perplexities printed beside each
#          other agree (test_interop_gguf checks that to 1e-4). Whole-process wall time, tokens/s
#          (W x 2048 / seconds: every token of every window goes through the model) and peak
#          RSS (/usr/bin/time -f %M), runs alternating harness, llama.cpp, harness, ...;
#          medians of REPS runs.
#
# Checkpoints: random-weight synthetic models (`awq-harness synth`) at the exact shapes of
# ../shared/data/configs (SmolLM2-135M, TinyLlama-1.1B, Llama-2-7B), with the real tokenizer
# of that family copied in, so both tools read the same text through the same vocabulary.
# F32 (synth --dtype f32) and F16 (--dtype f16) GGUFs; the harness computes in fp32 either way.
# llama.cpp runs with -ctk f32 -ctv f32 -fa off so that its numbers are the same arithmetic
# problem as the harness's (its default F16 KV cache changes the perplexity in the 4th digit).
#
# Environment: REPS (default 3), PEER_MODELS (default "smollm tinyllama"; add llama7b: an F16
# 7B GGUF is 13.5 GB and one run takes many minutes on 2 cores; its F32 GGUF does not fit in
# 24 GiB and is skipped), WINDOWS_smollm/_tinyllama/_llama7b (windows of 2048; defaults 4/2/1),
# THREADS (default 2), DTYPES (default "f32 f16").
# Writes bench/results/peers.csv in the common format of bench/README.md; never fails on a number.
set -uo pipefail
cd "$(dirname "$0")/.."
SHARED="${AH_SHARED_DATA:-../shared/data}"
REPS=${REPS:-3}; THREADS=${THREADS:-2}; DTYPES=${DTYPES:-f32 f16}
PEER_MODELS=${PEER_MODELS:-smollm tinyllama}
OUT=bench/results/peers.csv
TEXT="$SHARED/wikitext-2-raw/wiki.test.raw"
[ -x ./awq-harness ] || { echo "peers: ./awq-harness not built (make)"; exit 0; }
[ -f "$TEXT" ] || { echo "peers: $TEXT absent (../shared/data), skipped"; exit 0; }
[ -x /usr/bin/time ] || { echo "peers: /usr/bin/time absent (apt-get install time), skipped"; exit 0; }
bin=$(bash tools/llama-cpp) || { echo "peers: llama.cpp could not be built (tools/llama-cpp), skipped"; exit 0; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/peers.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
BIN="$tmp/awq-harness"; cp ./awq-harness "$BIN"   # a concurrent `make` cannot swap it mid-run
mkdir -p bench/results
[ -f "$OUT" ] || echo "date,machine,benchmark,metric,value,unit,reference,ratio,command" >"$OUT"
CPU=$(lscpu | sed -n 's/^Model name: *//p' | tr -d ',')
load() { cut -d' ' -f1 /proc/loadavg; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
row() {   # benchmark metric value unit reference command   (ratio = value / reference)
  local ratio=""
  [ -n "$5" ] && ratio=$(awk -v a="$3" -v b="$5" 'BEGIN {if (b > 0) printf "%.3f", a / b}')
  echo "$(date -u +%F),$CPU,$1,$2 (load $(load)),$3,$4,$5,$ratio,\"$6\"" >>"$OUT"
}

declare -A CFG=([smollm]=SmolLM2-135M [tinyllama]=tinyllama-1.1b [llama7b]=llama-2-7b)
declare -A TOK=([smollm]=smollm [tinyllama]=llama2 [llama7b]=llama2)
declare -A WIN=([smollm]=${WINDOWS_smollm:-4} [tinyllama]=${WINDOWS_tinyllama:-2} [llama7b]=${WINDOWS_llama7b:-1})

# timed OUTFILE cmd...: runs cmd, stdout+stderr to OUTFILE; prints "seconds peak_mib".
timed() {
  local out=$1; shift
  /usr/bin/time -f 'peers_time %e %M' -o "$tmp/time" "$@" >"$out" 2>&1 || { echo "FAIL"; return 1; }
  awk '/^peers_time/ {printf "%s %.0f\n", $2, $3 / 1024}' "$tmp/time"
}

printf '%-10s %-4s %-44s %-44s\n' model dtype "harness (s, tok/s, MiB, ppl)" "llama-perplexity (s, tok/s, MiB, ppl)"
for m in $PEER_MODELS; do
  cfg="$SHARED/configs/${CFG[$m]}.config.json"; tokdir="$SHARED/tokenizers/${TOK[$m]}"
  [ -f "$cfg" ] && [ -d "$tokdir" ] || { echo "peers: $cfg or $tokdir absent, $m skipped"; continue; }
  W=${WIN[$m]}; ntok=$((W * 2048))
  for dt in $DTYPES; do
    if [ "$m" = llama7b ] && [ "$dt" = f32 ]; then echo "peers: llama7b f32 skipped (27 GB GGUF)"; continue; fi
    dir="$tmp/$m-$dt"; g="$tmp/$m-$dt.gguf"
    "$BIN" synth --quiet --config "$cfg" --dtype "$dt" --ids 0 --out "$dir" >/dev/null || { echo "peers: synth $m failed"; continue; }
    cp "$tokdir"/tokenizer* "$dir"/ 2>/dev/null; cp "$tokdir"/special_tokens_map.json "$tokdir"/vocab.json "$tokdir"/merges.txt "$dir"/ 2>/dev/null
    "$BIN" quantize --quiet --model "$dir" --method fp16 --format gguf --out "$g" >/dev/null 2>"$tmp/export.err" ||
      { echo "peers: gguf export of $m failed: $(tail -n 1 "$tmp/export.err")"; rm -rf "$dir"; continue; }
    hcmd="./awq-harness eval --model DIR --data text:wiki.test.raw --protocol llamacpp --seqlen 2048 --max-windows $W --threads $THREADS"
    lcmd="llama-perplexity -m DIR.gguf -f wiki.test.raw -c 2048 --chunks $W -t $THREADS -ctk f32 -ctv f32 -fa off"
    hs=(); ls=(); hm=(); lm=(); hppl=""; lppl=""
    for i in $(seq "$REPS"); do   # alternating: harness, llama.cpp, harness, ...
      r=$(timed "$tmp/h.out" "$BIN" eval --model "$dir" --data "text:$TEXT" --protocol llamacpp --seqlen 2048 \
            --max-windows "$W" --threads "$THREADS") || { echo "peers: harness eval failed:"; tail -n 3 "$tmp/h.out"; break; }
      hs+=("${r% *}"); hm+=("${r#* }")
      hppl=$(tr ' ' '\n' <"$tmp/h.out" | sed -n 's/^ppl=//p' | tail -n 1)
      r=$(timed "$tmp/l.out" "$bin/llama-perplexity" -m "$g" -f "$TEXT" -c 2048 --chunks "$W" -t "$THREADS" \
            -ctk f32 -ctv f32 -fa off) || { echo "peers: llama-perplexity failed:"; tail -n 3 "$tmp/l.out"; break; }
      ls+=("${r% *}"); lm+=("${r#* }")
      lppl=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$tmp/l.out")
    done
    [ ${#ls[@]} -gt 0 ] || { rm -rf "$dir" "$g"; continue; }
    h=$(printf '%s\n' "${hs[@]}" | median); l=$(printf '%s\n' "${ls[@]}" | median)
    hmem=$(printf '%s\n' "${hm[@]}" | median); lmem=$(printf '%s\n' "${lm[@]}" | median)
    htps=$(awk -v n="$ntok" -v s="$h" 'BEGIN {printf "%.0f", n / s}')
    ltps=$(awk -v n="$ntok" -v s="$l" 'BEGIN {printf "%.0f", n / s}')
    row "peers eval $m $dt $THREADS thr" "tok/s harness vs llama-perplexity, whole process, medians (harness s $(echo ${hs[*]} | tr ' ' '/'), llama.cpp s $(echo ${ls[*]} | tr ' ' '/'); ppl $hppl vs $lppl)" \
        "$htps" tok/s "$ltps" "$hcmd  vs  $lcmd"
    row "peers eval $m $dt $THREADS thr" "peak RSS harness vs llama-perplexity (MiB, medians)" "$hmem" MiB "$lmem" "$hcmd  vs  $lcmd"
    printf '%-10s %-4s %-44s %-44s\n' "$m" "$dt" "$h s, $htps tok/s, $hmem MiB, ppl $hppl" "$l s, $ltps tok/s, $lmem MiB, ppl $lppl"
    rm -rf "$dir" "$g"
  done
done
echo "peers: rows in $OUT (load average now $(load); runs alternate, so load hits both sides)"
