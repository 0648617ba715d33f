#!/usr/bin/env python3
"""lmeval_yamls.py — local lm-eval task YAMLs over our JSON-lines task files.

usage: lmeval_yamls.py DATA_DIR OUT_DIR   (run with the peers venv's python: imports lm_eval)

For each task this project scores (eval/tasks_table.c) it copies lm-eval's OWN task YAML
(lm_eval/tasks/<dir>/<file>.yaml of the installed package) and its helper .py file into
OUT_DIR, changing only where the documents come from: `dataset_path: json` with
`dataset_kwargs: {data_files: {test: DATA_DIR/<task>.jsonl}}` and `test_split: test`, and the
task name prefixed `ah_` (so lm-eval's registry of the real tasks does not clash). Prompts,
choices, targets, preprocessing and metrics stay lm-eval's. Also writes ah_mc.yaml for the
generic multiple-choice schema (query, choices, gold), which lm-eval has no task for.
"""
import os
import re
import shutil
import sys

import lm_eval

TASKS = {  # our name: (lm-eval task dir, yaml file, helper file or None)
    "hellaswag": ("hellaswag", "hellaswag.yaml", "utils.py"),
    "piqa": ("piqa", "piqa.yaml", None),
    "arc_easy": ("arc", "arc_easy.yaml", None),
    "arc_challenge": ("arc", "arc_easy.yaml", None),   # arc_challenge.yaml only includes it
    "winogrande": ("winogrande", "default.yaml", "preprocess_winogrande.py"),
    "lambada": ("lambada", "lambada_openai.yaml", None),
    "wikitext": ("wikitext", "wikitext.yaml", "preprocess_wikitext.py"),
}
SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split",
              "dataset_name", "dataset_path", "tag", "task")


def local_yaml(text, task, data):
    out, skip_list = [], False
    for line in text.split("\n"):
        key = line.split(":", 1)[0].strip() if ":" in line and not line.startswith(" ") else None
        if skip_list and (line.startswith(" ") or line.startswith("-")):
            continue   # the items of a removed list ("tag:")
        skip_list = False
        if key in SPLIT_KEYS:
            skip_list = key == "tag"
            continue
        out.append(line)
    head = [f"task: ah_{task}", "dataset_path: json", "dataset_kwargs:", "  data_files:",
            f"    test: {data}", "test_split: test"]
    return "\n".join(head + out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data, out = (os.path.abspath(a) for a in sys.argv[1:])
    os.makedirs(out, exist_ok=True)
    root = os.path.join(os.path.dirname(lm_eval.__file__), "tasks")
    for task, (d, yml, helper) in TASKS.items():
        with open(os.path.join(root, d, yml), encoding="utf-8") as f:
            text = f.read()
        with open(os.path.join(out, f"ah_{task}.yaml"), "w", encoding="utf-8") as f:
            f.write(local_yaml(text, task, os.path.join(data, f"{task}.jsonl")))
        if helper:
            shutil.copy(os.path.join(root, d, helper), os.path.join(out, helper))
    with open(os.path.join(out, "ah_mc.yaml"), "w", encoding="utf-8") as f:
        f.write(local_yaml("output_type: multiple_choice\ndoc_to_text: \"{{query}}\"\n"
                           "doc_to_target: gold\ndoc_to_choice: choices\nmetric_list:\n"
                           "  - metric: acc\n  - metric: acc_norm\n", "mc",
                           os.path.join(data, "mc.jsonl")))


if __name__ == "__main__":
    main()
