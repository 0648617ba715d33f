#!/usr/bin/python3
"""ref_eval_time.py — times tools/ref_model.py's perplexity (gptq protocol) the way `eval`'s
tok_per_s is timed: windows only, after the model is loaded and the ids are read.

  /usr/bin/python3 bench/ref_eval_time.py --model DIR --ids FILE --seqlen N --max-windows K
                                          --threads T

Last stdout line: "ppl=... windows=... seqlen=... seconds=... tok_per_s=...".
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import ref_model  # noqa: E402
import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--seqlen", type=int, required=True)
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--threads", type=int, required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = ref_model.load_model(a.model)
    with open(a.ids) as f:
        ids = [int(s) for s in f.read().split()]
    t0 = time.time()
    r = ref_model.ppl_gptq(m, ids, a.seqlen, a.max_windows)
    dt = time.time() - t0
    print(f"ppl={r['ppl']:.6f} windows={r['windows']} seqlen={a.seqlen} seconds={dt:.3f} "
          f"tok_per_s={r['windows'] * a.seqlen / dt:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
