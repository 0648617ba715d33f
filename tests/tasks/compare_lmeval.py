#!/usr/bin/env python3
"""compare_lmeval.py — our per-item scores against lm-eval's --log_samples output.

usage: compare_lmeval.py OURS.jsonl LMEVAL_OUTPUT_DIR TASK[,TASK...]

OURS.jsonl: `awq-harness tasks --samples` (one line per item: task, doc, ll[], greedy[], gold,
acc, acc_norm; rolling tasks: ll [1], words, bytes). LMEVAL_OUTPUT_DIR: lm-eval's --output_path
(searched for samples_ah_<task>_*.jsonl and results_*.json). Checks, per task:
  - every request's log-likelihood within LL_TOL (absolute, nats) of lm-eval's, in the same
    order (doc_id, then the request order lm-eval builds: choice by choice);
  - is_greedy identical (LAMBADA's acc is it);
  - acc and acc_norm identical per item, so the task means are identical;
  - rolling tasks: each document's log-likelihood within ROLL_TOL relative, and lm-eval's
    word_perplexity, byte_perplexity and bits_per_byte (its results file) within ROLL_TOL
    relative of ours recomputed from the same counts.
Prints the worst difference of each task; exit status 1 on any mismatch.
"""
import glob
import json
import math
import os
import sys

LL_TOL = 1e-4     # absolute, per request: float32 sums of tens of log-probabilities
ROLL_TOL = 1e-4   # relative: a document's sum over thousands of tokens, and the perplexities


def load_ours(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out.setdefault(r["task"], {})[r["doc"]] = r
    return out


def lm_samples(d, task):
    files = glob.glob(os.path.join(d, "**", f"samples_ah_{task}_*.jsonl"), recursive=True)
    if len(files) != 1:
        raise SystemExit(f"FAIL {task}: expected one lm-eval samples file, found {files}")
    with open(files[0], encoding="utf-8") as f:
        return {r["doc_id"]: r for r in map(json.loads, f)}


def lm_results(d):
    files = glob.glob(os.path.join(d, "**", "results_*.json"), recursive=True)
    res = {}
    for fn in files:
        with open(fn, encoding="utf-8") as f:
            res.update(json.load(f)["results"])
    return res


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    ours = load_ours(sys.argv[1])
    results = lm_results(sys.argv[2])
    bad = 0
    for task in sys.argv[3].split(","):
        theirs = lm_samples(sys.argv[2], task)
        mine = ours.get(task, {})
        if sorted(mine) != sorted(theirs):
            print(f"FAIL {task}: documents differ: ours {len(mine)}, lm-eval {len(theirs)}")
            bad += 1
            continue
        worst, nreq, flips, accd = 0.0, 0, 0, 0
        if task == "wikitext":
            sum_ll = words = nbytes = 0
            for i, t in theirs.items():
                ll_t = float(t["filtered_resps"][0])
                ll_o = mine[i]["ll"][0]
                worst = max(worst, abs(ll_o - ll_t) / abs(ll_t))
                sum_ll += ll_o
                words += mine[i]["words"]
                nbytes += mine[i]["bytes"]
                wp, bp = t["word_perplexity"], t["byte_perplexity"]
                if wp[1] != mine[i]["words"] or bp[1] != mine[i]["bytes"]:
                    print(f"FAIL {task} doc {i}: counts: ours {mine[i]['words']} words "
                          f"{mine[i]['bytes']} bytes, lm-eval {wp[1]} and {bp[1]}")
                    bad += 1
            r = results[f"ah_{task}"]
            got = {"word_perplexity,none": math.exp(-sum_ll / words),
                   "byte_perplexity,none": math.exp(-sum_ll / nbytes),
                   "bits_per_byte,none": -sum_ll / nbytes / math.log(2)}
            for k, v in got.items():
                rel = abs(v - r[k]) / abs(r[k])
                print(f"  {task} {k.split(',')[0]}: ours {v:.8g}, lm-eval {r[k]:.8g} "
                      f"(rel {rel:.2e})")
                if rel > ROLL_TOL:
                    bad += 1
            print(f"{task}: {len(theirs)} documents, worst document log-likelihood rel "
                  f"{worst:.2e} (tol {ROLL_TOL})")
            bad += worst > ROLL_TOL
            continue
        for i, t in theirs.items():
            resp = t["filtered_resps"]
            o = mine[i]
            if len(resp) != len(o["ll"]):
                print(f"FAIL {task} doc {i}: {len(o['ll'])} requests, lm-eval {len(resp)}")
                bad += 1
                continue
            for j, (ll, greedy) in enumerate(resp):
                d = abs(float(ll) - o["ll"][j])
                nreq += 1
                if d > worst:
                    worst = d
                if d > LL_TOL:
                    print(f"FAIL {task} doc {i} request {j}: ours {o['ll'][j]:.9g}, lm-eval {ll}")
                    bad += 1
                if (greedy in (True, "True")) != bool(o["greedy"][j]):
                    flips += 1
            for m in ("acc", "acc_norm"):
                if m in t and float(t[m]) != float(o[m]):
                    accd += 1
                    print(f"FAIL {task} doc {i}: {m} ours {o[m]}, lm-eval {t[m]}")
        r = results.get(f"ah_{task}", {})
        means = ", ".join(f"{m} {r[m + ',none']:.4f}" for m in ("acc", "acc_norm")
                          if m + ",none" in r)
        print(f"{task}: {len(theirs)} items, {nreq} requests, worst |ll diff| {worst:.2e} "
              f"(tol {LL_TOL}), is_greedy differs {flips}, acc/acc_norm differ {accd}; "
              f"lm-eval {means}")
        bad += flips + accd
    if bad:
        print(f"FAIL: {bad} mismatches")
        sys.exit(1)
    print("all agree")


if __name__ == "__main__":
    main()
