#!/usr/bin/python3
"""ref_kld.py — independent reference for the harness's KL divergence (harness/eval/kld.h).

Runs tools/ref_model.py's PyTorch forward of two checkpoints (the FP model and a quantized
export of it, `awq-harness quantize --out`) over the same windows, and computes in numpy, from
the two models' whole (P, V) logit rows, what llama.cpp's `llama-perplexity --kl-divergence`
computes (tools/perplexity/perplexity.cpp): the FP log-probs rounded to its 16-bit codes,
KLD = sum over logp_b > -16 of p_b (logp_b - logp_q) with each term in float32, top-1
agreement, Δp, and its statistics (mean +- standard error, percentiles on sorted float32 values
with its interpolation, median). It also prints the exact KL divergence in float64 (no 16-bit
rounding: kld_exact_mean, top1_exact_same) and the FP model's KLD against itself under the
16-bit rounding (kld_self_mean), the residual the rounding leaves.

Usage
  /usr/bin/python3 tools/ref_kld.py --base DIR --quant DIR (--text FILE | --ids FILE)
      --seqlen N [--protocol gptq|llamacpp] [--max-windows K] [--per-window]
The last line is key=value pairs named as `awq-harness eval --kld` names them.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_model  # noqa: E402

F = np.float32


def base_rows(lb):
    """llama.cpp's 16-bit base row of FP logits lb (P, V) float32: logp_b (P, V) float32."""
    mx = lb.max(1)
    lo = np.maximum(lb.min(1), mx - F(16))
    sum_exp = np.exp(lb - mx[:, None]).astype(np.float64).sum(1)   # expf, summed in double
    lse = np.log(sum_exp).astype(F)
    scale = ((mx - lo) / F(65535)).astype(F)
    min_log_prob = (lo - mx - lse).astype(F)
    inv = np.where(scale != 0, F(1) / np.where(scale != 0, scale, F(1)), F(0)).astype(F)
    code = np.where(lb > lo[:, None], np.rint(inv[:, None] * (lb - lo[:, None])), F(0)).astype(F)
    return (scale[:, None] * code + min_log_prob[:, None]).astype(F)


def kld_rows(logp_b, lq, t):
    """Per position (kld float32, dp float32, same_top bool) as llama.cpp's log_softmax with a
    base row: lq (P, V) float32 quantized logits, t (P,) the tokens that follow."""
    mq = lq.max(1)
    lse = np.log(np.exp(lq - mq[:, None]).astype(np.float64).sum(1)).astype(F)
    shift = (mq + lse).astype(F)
    keep = logp_b > F(-16)
    p_b = np.exp(np.where(keep, logp_b, F(-100))).astype(F)
    term = (p_b * ((logp_b - lq) + shift[:, None])).astype(F)   # float32, in llama.cpp's order
    kld = np.where(keep, term, F(0)).astype(np.float64).sum(1).astype(F)
    r = np.arange(len(t))
    nll = (shift - lq[r, t]).astype(F)
    nll_b = (-logp_b[r, t]).astype(F)
    dp = (np.exp(-nll).astype(F) - np.exp(-nll_b).astype(F)).astype(F)
    same = lq.argmax(1) == logp_b.argmax(1)
    return kld, dp, same


def exact_kld(lb, lq):
    """KL(p_b || p_q) per position in float64, no rounding of the base."""
    a = torch.log_softmax(torch.as_tensor(lb, dtype=torch.float64), -1)
    b = torch.log_softmax(torch.as_tensor(lq, dtype=torch.float64), -1)
    return (a.exp() * (a - b)).sum(-1).numpy()


def percentile(v, fraction):
    """llama.cpp's percentile of sorted float32 values v."""
    fraction = F(fraction)
    if fraction <= 0:
        return v[0]
    if fraction >= 1:
        return v[-1]
    p = F(fraction * F(len(v) - 1))
    ip = int(p)
    p = F(p - F(ip))
    return F((F(1) - p) * v[ip] + p * v[min(ip + 1, len(v) - 1)])


def median(v):
    n = len(v)
    return F(F(0.5) * (v[n // 2] + v[n // 2 - 1])) if n % 2 == 0 else v[n // 2]


def mean_se(x):
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    f = x.sum() / n
    df = (x * x).sum() / n - f * f
    return f, (math.sqrt(df / (n - 1)) if df > 0 and n > 10 else 0.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--quant", required=True)
    ap.add_argument("--tokenizer")
    ap.add_argument("--text")
    ap.add_argument("--ids")
    ap.add_argument("--seqlen", type=int, required=True)
    ap.add_argument("--protocol", choices=["gptq", "llamacpp"], default="gptq")
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--per-window", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    mb = ref_model.load_model(a.base)
    mq = ref_model.load_model(a.quant)
    ids, bos = ref_model.get_ids(mb, a.base, text_file=a.text, ids_file=a.ids, tokenizer=a.tokenizer)
    T = a.seqlen
    W = len(ids) // T
    if a.max_windows:
        W = min(W, a.max_windows)
    first = T // 2 if a.protocol == "llamacpp" else 0
    klds, dps, sames, exact, selfk, exact_same = [], [], [], [], [], 0
    for w in range(W):
        win = list(ids[w * T:(w + 1) * T])
        if a.protocol == "llamacpp" and bos is not None:
            win[0] = bos
        lb = ref_model.forward(mb, win)[first:T - 1].numpy().astype(F)
        lq = ref_model.forward(mq, win)[first:T - 1].numpy().astype(F)
        t = np.asarray(win[first + 1:T])
        logp_b = base_rows(lb)
        k, d, s = kld_rows(logp_b, lq, t)
        klds.append(k)
        dps.append(d)
        sames.append(s)
        exact.append(exact_kld(lb, lq))
        exact_same += int((lb.argmax(1) == lq.argmax(1)).sum())
        selfk.append(kld_rows(logp_b, lb, t)[0])
        if a.per_window:
            print(f"window={w} kld={float(k.astype(np.float64).mean()):.9g} "
                  f"top1={float(s.mean()):.9g}")
    k = np.concatenate(klds)
    d = np.concatenate(dps)
    s = np.concatenate(sames)
    n = k.size
    out = {}
    out["kld_mean"], out["kld_se"] = mean_se(k)
    ks, ds = np.sort(k), np.sort(d)
    for name, fr in [("max", 1), ("p999", .999), ("p99", .99), ("p95", .95), ("p90", .9),
                     ("median", None), ("p10", .1), ("p5", .05), ("p1", .01), ("p01", .001),
                     ("min", 0)]:
        out["kld_" + name] = median(ks) if fr is None else percentile(ks, fr)
    out["top1_same"] = int(s.sum())
    out["top1_agree"] = s.sum() / n
    out["dp_mean"], out["dp_se"] = mean_se(d)
    for name, fr in [("max", 1), ("p99", .99), ("p90", .9), ("median", None), ("p10", .1),
                     ("p1", .01), ("min", 0)]:
        out["dp_" + name] = median(ds) if fr is None else percentile(ds, fr)
    out["kld_positions"] = n
    out["kld_exact_mean"] = float(np.concatenate(exact).mean())
    out["top1_exact_same"] = exact_same
    out["kld_self_mean"] = float(np.concatenate(selfk).astype(np.float64).mean())
    print(" ".join(f"{key}={v}" if isinstance(v, int) else f"{key}={float(v):.9g}"
                   for key, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
