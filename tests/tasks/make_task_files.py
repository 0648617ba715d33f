#!/usr/bin/env python3
"""make_task_files.py — deterministic task files in each dataset's schema, for the scoring tests.

usage: make_task_files.py SENTENCES OUT_DIR [N]

Reads one sentence per line (models/tinyprose/data/heldout.txt: MIT-licensed nlp-corpus slices,
models/tinyprose/data/SOURCE.md) and writes OUT_DIR/<task>.jsonl with N items (default 200) in
the schema of the Hugging Face dataset each task reads (docs/TASKS.md):
  hellaswag.jsonl      Rowan/hellaswag: activity_label, ctx_a, ctx_b, endings[4], label ("0".."3")
  piqa.jsonl           baber/piqa: goal, sol1, sol2, label (int)
  arc_easy.jsonl       allenai/ai2_arc: question, choices {text[], label[]}, answerKey
  arc_challenge.jsonl  (same schema; labels "1".."4" on some rows, as in the real set)
  winogrande.jsonl     allenai/winogrande: sentence (one "_"), option1, option2, answer "1"/"2"
  lambada.jsonl        EleutherAI/lambada_openai: text
  wikitext.jsonl       EleutherAI/wikitext_document_level: page, N / 10 of them (at least 4;
                       wikitext-tokenized style:
                       " @-@ ", " , ", "( x )", "= = heading = =", " 's" ...; some pages longer
                       than the model's 512-token context, so several rolling windows)
  mc.jsonl             this project's generic multiple choice: query, choices[], gold
The gold answers are the real continuations; the distractors are other sentences, so a model
that learnt the text scores above chance. Items are chosen by a seeded generator (random.Random
with a fixed seed): the same input gives byte-identical files.
"""
import json
import random
import sys


def words(s):
    return s.split(" ")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) == 4 else 200
    with open(src, encoding="utf-8") as f:
        sents = [s.strip() for s in f.read().split("\n")]
    # sentences of 6..40 words: long enough to split, short enough for quick scoring
    sents = [s for s in sents if 6 <= len(words(s)) <= 40 and "_" not in s]
    rng = random.Random(20)

    def pick(k=1):
        return [rng.choice(sents) for _ in range(k)]

    def halves(s):
        w = words(s)
        m = len(w) // 2
        return " ".join(w[:m]), " ".join(w[m:])

    def distractors(k, gold):
        # k second halves of other sentences, distinct from each other and from the gold
        # answer (a real dataset has no two equal choices; equal ones tie, and a tie's winner
        # is decided by float noise)
        out = []
        while len(out) < k:
            x = halves(pick()[0])[1]
            if x != gold and x not in out:
                out.append(x)
        return out

    def write(name, rows):
        with open(f"{out}/{name}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    rows = []
    for i in range(n):
        a, b = pick(2)
        b1, b2 = halves(b)
        endings = distractors(3, b2)
        gold = rng.randrange(4)
        endings.insert(gold, b2)
        if i % 5 == 0:   # WikiHow-style artifacts the preprocess removes
            endings[rng.randrange(4)] += " [title] Step two [step] " + halves(pick()[0])[0]
        label = " ".join(words(a)[:2]).rstrip(".,;:!?")
        rows.append({"ind": i, "activity_label": label, "ctx_a": a,
                     "ctx_b": b1.lower() if i % 3 else b1, "ctx": a + " " + b1,
                     "endings": endings, "source_id": f"ah~{i}", "split": "val",
                     "split_type": "indomain", "label": str(gold)})
    write("hellaswag", rows)

    rows = []
    for i in range(n):
        g = pick()[0]
        a, b = halves(g)
        gold = rng.randrange(2)
        sol = [b] + distractors(1, b)
        if gold:
            sol.reverse()
        rows.append({"goal": a, "sol1": sol[0], "sol2": sol[1], "label": gold})
    write("piqa", rows)

    for task, k in (("arc_easy", 4), ("arc_challenge", 4)):
        rows = []
        for i in range(n):
            q, ans = halves(pick()[0])
            texts = distractors(k - 1, ans)
            gold = rng.randrange(k)
            texts.insert(gold, ans)
            labels = list("1234") if task == "arc_challenge" and i % 4 == 0 else list("ABCD")
            rows.append({"id": f"ah_{task}_{i}", "question": q + "?",
                         "choices": {"text": texts, "label": labels}, "answerKey": labels[gold]})
        write(task, rows)

    rows = []
    for i in range(n):
        s = pick()[0]
        w = words(s)
        j = rng.randrange(1, len(w) - 1)
        other = w[j]
        while other == w[j]:
            other = rng.choice(words(pick()[0]))
        opts = [w[j], other]
        gold = rng.randrange(2)
        if gold:
            opts.reverse()
        sent = " ".join(w[:j] + ["_"] + w[j + 1:])
        rows.append({"sentence": sent, "option1": opts[0], "option2": opts[1],
                     "answer": str(gold + 1)})
    write("winogrande", rows)

    write("lambada", [{"text": pick()[0]} for _ in range(n)])

    rows = []
    for i in range(max(4, n // 10)):   # 20 pages for 200 items
        title = " ".join(words(pick()[0])[:3])
        lines = [" = " + title + " = ", ""]
        for _ in range(2 + rng.randrange(4 if i % 4 else 40)):   # every 4th page is long
            sec = " ".join(words(pick()[0])[:2])
            lines += [" = = " + sec + " = = ", ""]
            para = []
            for s in pick(3):
                s = s.replace(", ", " , ").replace("-", " @-@ ").replace("'s", " 's")
                if rng.random() < 0.3:
                    s += " ( " + pick()[0][:20] + " )"
                para.append(s + " .")
            lines += [" " + " ".join(para) + " ", ""]
        rows.append({"page": "\n".join(lines) + "\n"})
    write("wikitext", rows)

    rows = []
    for i in range(n):
        q, a = halves(pick()[0])
        ch = distractors(2, a)
        gold = rng.randrange(3)
        ch.insert(gold, a)
        rows.append({"query": q, "choices": ch, "gold": gold})
    write("mc", rows)


if __name__ == "__main__":
    main()
