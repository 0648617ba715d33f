#!/usr/bin/env bash
# test_tasks.sh — `awq-harness tasks` without lm-eval (make test; test_interop_lmeval.sh
# compares with lm-eval itself): the per-item scores obey lm-eval's metric rules (acc = argmax
# of the log-likelihoods, acc_norm = argmax of ll / choice length in characters, first maximum
# on ties; LAMBADA acc = is_greedy; the standard error = sample sd / sqrt(n)); the task files
# are deterministic; bad task files give one clear error naming the file and line.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
[ -x "$AH_BIN" ] || fail "binary $AH_BIN not found (run make)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
errors=0
model=models/tinyprose

mkdir -p "$tmp/d" "$tmp/d2"
/usr/bin/python3 tests/tasks/make_task_files.py $model/data/heldout.txt "$tmp/d" 24 || fail "make_task_files.py"
/usr/bin/python3 tests/tasks/make_task_files.py $model/data/heldout.txt "$tmp/d2" 24 || fail "make_task_files.py"
diff -r "$tmp/d" "$tmp/d2" >/dev/null || { echo "FAIL: make_task_files.py is not deterministic"; errors=$((errors + 1)); }

specs=""
for t in hellaswag piqa arc_easy arc_challenge winogrande lambada wikitext mc; do
  specs="$specs${specs:+,}$t:$tmp/d/$t.jsonl"
done
"$AH_BIN" tasks --quiet --threads 2 --model $model --tasks "$specs" --max-items 20 \
  --samples "$tmp/s.jsonl" >"$tmp/out" 2>"$tmp/err" || fail "tasks: $(cat "$tmp/err")"
[ -n "${AH_VERBOSE:-}" ] && cat "$tmp/out"

# The rules, recomputed from the per-item log-likelihoods and the task files.
/usr/bin/python3 - "$tmp/s.jsonl" "$tmp/out" "$tmp/d" <<'EOF' || errors=$((errors + 1))
import json, math, sys
samples = [json.loads(l) for l in open(sys.argv[1])]
lines = {}
for l in open(sys.argv[2]):
    if l.startswith("task="):
        kv = dict(x.split("=", 1) for x in l.split())
        lines[kv["task"]] = kv
bad = 0
def argmax(v):
    return max(range(len(v)), key=lambda i: (v[i], -i))
choices = {  # the raw choices where the task uses them unchanged
    "piqa": lambda d: [d["sol1"], d["sol2"]],
    "arc_easy": lambda d: d["choices"]["text"],
    "arc_challenge": lambda d: d["choices"]["text"],
    "mc": lambda d: d["choices"],
}
by_task = {}
for s in samples:
    by_task.setdefault(s["task"], []).append(s)
for task, items in by_task.items():
    if len(items) != 20 and task != "wikitext":
        print(f"FAIL {task}: {len(items)} items, want 20 (--max-items)"); bad += 1
    if task == "wikitext":
        docs = [json.loads(l)["page"] for l in open(f"{sys.argv[3]}/wikitext.jsonl")][:20]
        ll = sum(s["ll"][0] for s in items)
        words = sum(len(__import__("re").split(r"\s+", p)) for p in docs)
        nbytes = sum(len(p.encode()) for p in docs)
        want = math.exp(-ll / words)
        got = float(lines[task]["word_perplexity"])
        if abs(got - want) > 1e-6 * want or int(lines[task]["words"]) != words or \
           int(lines[task]["bytes"]) != nbytes:
            print(f"FAIL wikitext: word_perplexity {got} words {lines[task]['words']} bytes "
                  f"{lines[task]['bytes']}; want {want} {words} {nbytes}"); bad += 1
        continue
    docs = [json.loads(l) for l in open(f"{sys.argv[3]}/{task}.jsonl")]
    accs = []
    for s in items:
        ll = s["ll"]
        if any(not (x < 0) for x in ll):
            print(f"FAIL {task} doc {s['doc']}: log-likelihood not negative: {ll}"); bad += 1
        if task == "lambada":
            accs.append(float(s["greedy"][0]))
            if s["acc"] != s["greedy"][0]:
                print(f"FAIL lambada doc {s['doc']}: acc {s['acc']} is not is_greedy"); bad += 1
            continue
        acc = float(argmax(ll) == s["gold"])
        accs.append(acc)
        if s["acc"] != acc:
            print(f"FAIL {task} doc {s['doc']}: acc {s['acc']}, argmax rule gives {acc}"); bad += 1
        if task in choices:
            ch = choices[task](docs[s["doc"]])
            norm = float(argmax([x / len(c) for x, c in zip(ll, ch)]) == s["gold"])
            if s["acc_norm"] != norm:
                print(f"FAIL {task} doc {s['doc']}: acc_norm {s['acc_norm']}, rule gives {norm}")
                bad += 1
    n = len(accs)
    m = sum(accs) / n
    se = math.sqrt(sum((a - m) ** 2 for a in accs) / (n - 1)) / math.sqrt(n)
    if abs(float(lines[task]["acc"]) - m) > 1e-6 or abs(float(lines[task]["acc_stderr"]) - se) > 1e-6:
        print(f"FAIL {task}: acc {lines[task]['acc']} +- {lines[task]['acc_stderr']}, "
              f"want {m} +- {se}"); bad += 1
sys.exit(1 if bad else 0)
EOF

# eval --protocol lmeval on the same pages: the same rolling log-likelihoods, so the same word
# perplexity as the wikitext task (two paths through the scorer).
line=$("$AH_BIN" eval --quiet --threads 2 --model $model --data "jsonl:$tmp/d/wikitext.jsonl" \
       --protocol lmeval 2>"$tmp/err" | tail -n 1) || fail "eval --protocol lmeval: $(cat "$tmp/err")"
wt=$(grep '^task=wikitext' "$tmp/out")
rel_close "$(kv word_perplexity "$line")" "$(kv word_perplexity "$wt")" 1e-9 ||
  { echo "FAIL: eval --protocol lmeval: $line; tasks: $wt"; errors=$((errors + 1)); }
[ "$(kv words "$line")" = "$(kv words "$wt")" ] && [ "$(kv bytes "$line")" = "$(kv bytes "$wt")" ] ||
  { echo "FAIL: eval --protocol lmeval counts other words or bytes"; errors=$((errors + 1)); }
expect_error lmeval-kld "--kld compares window positions" -- "$AH_BIN" eval --model $model \
  --data "jsonl:$tmp/d/wikitext.jsonl" --protocol lmeval --kld --method rtn

# An experiment with tasks: records under tasks/<name>, /summary columns, report --metric.
{ echo "[experiment]"; echo "name = tasks-test"; echo "output = $tmp/x.h5"; echo "cache = $tmp/cache"
  echo "threads = 2"; echo "[model]"; echo "path = $model"; echo "[evaluation]"
  echo "data = text:$model/data/heldout.txt"; echo "seqlen = 64"; echo "max_windows = 2"
  echo "tasks = piqa:$tmp/d/piqa.jsonl, lambada:$tmp/d/lambada.jsonl"; echo "task_items = 6"
  echo "[sweep]"; echo "method = fp16, rtn"; echo "bits = 3, 4"; echo "group_size = 64"; } >"$tmp/x.ini"
"$AH_BIN" run "$tmp/x.ini" >"$tmp/run.out" 2>"$tmp/err" || fail "run with tasks: $(tail -n 3 "$tmp/err")"
"$AH_BIN" report "$tmp/x.h5" --metric acc:piqa --format csv >"$tmp/rep.csv" 2>"$tmp/err" ||
  { echo "FAIL: report --metric acc:piqa: $(cat "$tmp/err")"; errors=$((errors + 1)); }
/usr/bin/python3 - "$tmp/x.h5" "$tmp/rep.csv" "$tmp/s.jsonl" <<'PY' || errors=$((errors + 1))
import csv, json, sys
import h5py
f = h5py.File(sys.argv[1], "r")
bad = 0
fp = [s for s in map(json.loads, open(sys.argv[3])) if s["task"] == "piqa"][:6]
for rid in f["runs"]:
    run = f["runs"][rid]
    g = run["tasks"]["piqa"]
    if g["ll"].shape != (6, 2) or int(g.attrs["items"]) != 6:
        print(f"FAIL {rid}: tasks/piqa/ll shape {g['ll'].shape}"); bad += 1
    if abs(float(run.attrs["acc_piqa"]) - g["acc"][:].mean()) > 1e-12:
        print(f"FAIL {rid}: acc_piqa is not the mean of tasks/piqa/acc"); bad += 1
    if rid == "fp16":   # the FP run scores what the tasks command scored
        for i, item in enumerate(fp):
            for j in range(2):
                if abs(g["ll"][i, j] - item["ll"][j]) > 1e-4:   # other batches: float noise
                    print(f"FAIL fp16 piqa {i}/{j}: {g['ll'][i, j]} vs {item['ll'][j]}"); bad += 1
    if "ppl_lambada" not in run.attrs or "scored_tokens" not in run.attrs:
        print(f"FAIL {rid}: no ppl_lambada or scored_tokens"); bad += 1
s = f["summary"][:]
if "acc_piqa" not in s.dtype.names or len(s) != 3:
    print("FAIL: /summary lacks acc_piqa"); bad += 1
rows = list(csv.reader(open(sys.argv[2])))
if len(rows) < 3:
    print(f"FAIL: report csv {rows}"); bad += 1
sys.exit(1 if bad else 0)
PY

# Bad task files: one line, naming the file (and line / field).
echo '{"goal": "a", "sol1": "b", "sol2": "c", "label": 0}' >"$tmp/ok.jsonl"
printf '%s\n{"goal": "a", "sol1": "b"\n' "$(cat "$tmp/ok.jsonl")" >"$tmp/badjson.jsonl"
echo '{"goal": "a", "sol1": "b", "label": 0}' >"$tmp/nofield.jsonl"
echo '{"goal": "a", "sol1": "b", "sol2": "c", "label": 5}' >"$tmp/gold.jsonl"
echo '{"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "C"}' >"$tmp/arc.jsonl"
echo '{"sentence": "no blank here", "option1": "a", "option2": "b", "answer": "1"}' >"$tmp/wino.jsonl"
run() { "$AH_BIN" tasks --quiet --model $model --tasks "$1"; }
expect_error missing-file "$tmp/none.jsonl: cannot read the piqa task file.*nothing is downloaded" -- run "piqa:$tmp/none.jsonl"
expect_error bad-json "badjson.jsonl:2: not JSON" -- run "piqa:$tmp/badjson.jsonl"
expect_error no-field "nofield.jsonl:1: field 'sol2' is missing" -- run "piqa:$tmp/nofield.jsonl"
expect_error gold-range "gold.jsonl:1: the gold answer 5 is outside the 2 choices" -- run "piqa:$tmp/gold.jsonl"
expect_error arc-key "arc.jsonl:1: answerKey 'C' is not one of choices.label" -- run "arc_easy:$tmp/arc.jsonl"
expect_error wino-blank "wino.jsonl:1: the sentence has no '_' blank" -- run "winogrande:$tmp/wino.jsonl"
expect_error unknown-task "task 'boolq': unknown \(known: hellaswag, piqa" -- run "boolq:$tmp/ok.jsonl"
expect_error no-file "give its file as piqa:FILE" -- run "piqa"
# acc_vs_bits: one figure per task with accuracies (piqa; lambada has acc too), 95% bars.
if command -v gnuplot >/dev/null 2>&1; then
  "$AH_BIN" plot "$tmp/x.h5" --only acc_vs_bits --out "$tmp/plots" >"$tmp/plot.out" 2>&1 ||
    { echo "FAIL: plot --only acc_vs_bits: $(tail -n 3 "$tmp/plot.out")"; errors=$((errors + 1)); }
  for t in piqa lambada; do
    [ -s "$tmp/plots/tasks-test/acc_vs_bits-$t.png" ] ||
      { echo "FAIL: acc_vs_bits-$t.png not drawn: $(cat "$tmp/plot.out")"; errors=$((errors + 1)); }
  done
fi

ini() { printf '[experiment]\nname = x\n[model]\npath = %s\n[evaluation]\ndata = text:x\n%s\n' $model "$1" >"$tmp/p.ini"; }
ini "protocol = lmeval"
expect_error ini-lmeval "p.ini:7: protocol: expected gptq or llamacpp, got 'lmeval'.*tasks = wikitext:FILE" -- "$AH_BIN" run "$tmp/p.ini"
ini "tasks = boolq:x.jsonl"
expect_error ini-task "p.ini:7: tasks: task 'boolq': unknown" -- "$AH_BIN" run "$tmp/p.ini"
[ $errors -eq 0 ] || fail "$errors failures"
