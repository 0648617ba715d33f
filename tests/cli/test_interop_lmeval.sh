#!/usr/bin/env bash
# test_interop_lmeval.sh — `awq-harness tasks` judged by lm-evaluation-harness itself (issue 20;
# run by `make interop`, not by `make test`: it needs the peers venv, tools/peers/venv, with
# lm_eval 0.4.13 and transformers, built once and cached outside the repository).
#
# Task files in each dataset's schema, 200 items per task (wikitext: 20 documents, 5 of them
# longer than the model's 512-token context), written by tests/tasks/make_task_files.py from
# the bundled model's held-out sentences; lm-eval reads them through local copies of its OWN
# task YAMLs (tests/tasks/lmeval_yamls.py: only dataset_path/data_files changed) with
#   lm_eval --model hf --model_args pretrained=models/tinyprose,dtype=float32 --device cpu
#           --tasks ah_<task>,... --include_path YAMLS --log_samples
# and tests/tasks/compare_lmeval.py checks, per task: every request's log-likelihood within
# 1e-4 (absolute), is_greedy, acc and acc_norm identical for every item; wikitext: every
# document's log-likelihood, its word and byte counts, and word_perplexity, byte_perplexity,
# bits_per_byte within 1e-4 relative.
# AH_LMEVAL_ITEMS=N makes smaller files (quick local runs; the acceptance is 200).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
model=models/tinyprose
items=${AH_LMEVAL_ITEMS:-200}

venv=$(tools/peers/venv) || fail "tools/peers/venv could not build the peers venv (exit $?)"
"$venv/bin/python" -c 'import lm_eval, transformers' 2>"$tmp/err" ||
  fail "the peers venv has no lm_eval/transformers: $(tail -n 1 "$tmp/err")"

mkdir -p "$tmp/data" "$tmp/yaml"
/usr/bin/python3 tests/tasks/make_task_files.py $model/data/heldout.txt "$tmp/data" "$items" ||
  fail "make_task_files.py failed"
"$venv/bin/python" tests/tasks/lmeval_yamls.py "$tmp/data" "$tmp/yaml" || fail "lmeval_yamls.py failed"

tasks="hellaswag piqa arc_easy arc_challenge winogrande lambada wikitext mc"
specs=""; ah=""
for t in $tasks; do specs="$specs${specs:+,}$t:$tmp/data/$t.jsonl"; ah="$ah${ah:+,}ah_$t"; done

start=$(date +%s)
"$AH_BIN" tasks --quiet --threads 2 --model $model --tasks "$specs" --samples "$tmp/ours.jsonl" \
  >"$tmp/ours.out" 2>"$tmp/err" || fail "awq-harness tasks: $(cat "$tmp/err")"
echo "awq-harness tasks: $(( $(date +%s) - start )) s"
sed 's/^/  /' "$tmp/ours.out" | grep -v '^  task='

# Offline: lm-eval reads the local JSON files and the local model, nothing else. One torch
# thread per core, batches of 32 (right padding changes no causal model's score), and
# logits_cache=False: with its default logits cache (requests grouped by context and their
# logits shared), lm-eval 0.4.13 + transformers 5.17 at batch 32 returned other
# log-likelihoods for a few short winogrande and mc requests ("In the dark we" + " can see":
# -16.18, where this harness, lm-eval without the cache, and transformers called directly on
# the one sequence all give -8.4194).
start=$(date +%s)
HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$tmp/hf" \
OMP_NUM_THREADS=2 "$venv/bin/lm_eval" --model hf \
  --model_args "pretrained=$PWD/$model,dtype=float32,logits_cache=False" --device cpu \
  --batch_size 32 --tasks "$ah" --include_path "$tmp/yaml" --log_samples --output_path "$tmp/lmeval" \
  >"$tmp/lmeval.log" 2>&1 || { tail -n 20 "$tmp/lmeval.log"; fail "lm_eval failed"; }
echo "lm_eval: $(( $(date +%s) - start )) s"
grep '^|' "$tmp/lmeval.log" | sed 's/^/  /'

/usr/bin/python3 tests/tasks/compare_lmeval.py "$tmp/ours.jsonl" "$tmp/lmeval" "${tasks// /,}" ||
  fail "scores differ from lm-eval's"
