#!/usr/bin/python3
"""ref_gptq.py — independent PyTorch reference of GPTQ as the paper and METHODS.md state it.

Written from the GPTQ paper (Frantar et al., ICLR 2023, Algorithm 1 and section 4 "Step 3:
Cholesky reformulation", lazy batch updates) and shared/design/METHODS.md, not from the C code.
Uses tools/ref_awq.py for the model pieces (block forward, embeddings, calibration blocks,
checkpoint dtypes) and tools/ref_model.py for loading and perplexity.

Per decoder block (layer-major, FP inputs: the next block is calibrated on the FP output):
  1 run the calibration sequences through the FP block, capturing the inputs of every linear
    (qkv / o / gate_up or fc1 / down or fc2): X (N*L, I) fp32;
    H = 2 / (N*L) * X^T X in float64.
  2 per linear W (R, C), in float64 unless said:
    - per-row quantizer (group -1): (scale, zero) from W as loaded;
    - dead inputs: H_ii == 0 -> H_ii = 1, W[:, i] = 0;
    - act_order: (scale, zero) of every group from W (original column order, "static
      groups"); columns permuted by descending diag H (a stable sort: ties keep index order);
    - H += damp * mean(diag H) * I; U = upper Cholesky factor of H^-1
      (torch.linalg.cholesky, cholesky_inverse, cholesky(upper=True)); if any step fails,
      damp *= 10, up to 6 times;
    - blocks of B columns: W1 = W[:, block] copy; for each column j: without act_order a
      group starting at j takes its (scale, zero) from W[:, j:j+g] (W as the last block update
      left it); q = quant(fp32(w_j)) with the METHODS.md quantizer in fp32, w_hat = (q - z) * s
      (fp32); err = (w_j - w_hat) / U_jj; W1[:, j:] -= err U[j, j:block end]; after the block
      W[:, block end:] -= Err @ U[block, block end:].
    - w_hat rounded to the checkpoint's dtype (F16 / BF16) like every method.
  3 perplexity with ref_model's gptq protocol.

Usage
  /usr/bin/python3 tools/ref_gptq.py --model PATH [--tokenizer-bin tok.bin]
      --calib-text FILE --calib-seqlen L --calib-samples N (the first N blocks)
      (--text FILE | --ids FILE) --seqlen S [--bits 4] [--group 128] [--quantizer minmax]
      [--damp 0.01] [--block-size 128] [--act-order] [--codes-out FILE.npz] [--json-out FILE]
  --codes-out: integer codes per linear (original column order), keyed by the tensor's
  checkpoint name (model.layers.0.self_attn.q_proj.weight ...).
  The last stdout line is "ppl=... tokens=... windows=... seqlen=...".
"""
import argparse
import importlib.util
import json
import os
import sys
import time

import numpy as np
import torch

torch.set_grad_enabled(False)
HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("ref_awq", os.path.join(HERE, "ref_awq.py"))
ref_awq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref_awq)
ref_model = ref_awq.ref_model

MAX_RETRIES = 6
INPUT_OF = {"wq": "qkv", "wk": "qkv", "wv": "qkv", "wo": "o", "w_gate": "mlp_in",
            "w_up": "mlp_in", "fc1_w": "mlp_in", "w_down": "mlp_mid", "fc2_w": "mlp_mid"}


def qparams(w, kind, bits):
    """(scale, zero) per row of w (R, n) fp32, METHODS.md formulas, fp32 arithmetic."""
    maxq = float(2 ** bits - 1)
    w = w.float()
    xmin, xmax = w.amin(1), w.amax(1)
    if kind == "minmax":
        scale = torch.clamp(xmax - xmin, min=1e-5) / maxq
        zero = torch.clamp(-torch.round(xmin / scale), 0, maxq)
    elif kind == "gptq-rtn":
        xmin = torch.minimum(xmin, torch.zeros_like(xmin))
        xmax = torch.maximum(xmax, torch.zeros_like(xmax))
        both = (xmin == 0) & (xmax == 0)
        xmin = torch.where(both, torch.full_like(xmin, -1.0), xmin)
        xmax = torch.where(both, torch.full_like(xmax, 1.0), xmax)
        scale = (xmax - xmin) / maxq
        zero = torch.clamp(torch.round(-xmin / scale), 0, maxq)
    elif kind == "rtn":
        half = 2 ** (bits - 1)
        scale = torch.maximum(xmin.abs(), xmax.abs()) / float(half - 1)
        zero = torch.full_like(scale, float(half))
    else:
        raise ValueError(kind)
    return scale, zero


def quant(w, scale, zero, bits):
    """w (R,) float64 -> (code (R,) fp32 integer-valued, w_hat (R,) fp32)."""
    maxq = float(2 ** bits - 1)
    wf = w.float()
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    c = torch.clamp(torch.round(wf / safe) + zero, 0, maxq)
    c = torch.where(scale > 0, c, zero)
    return c, (c - zero) * scale


def gptq_linear(W0, H0, bits, group, kind, damp, block, act_order):
    """W0 (R, C) fp32, H0 (C, C) float64 -> (w_hat fp32 (R, C), codes uint8 (R, C), damp used)."""
    R, C = W0.shape
    g = C if group == -1 else group
    G = (C + g - 1) // g
    W = W0.double().clone()
    H = H0.clone()
    scale = torch.zeros(R, G, dtype=torch.float32)
    zero = torch.zeros(R, G, dtype=torch.float32)
    if group == -1:
        scale[:, 0], zero[:, 0] = qparams(W0, kind, bits)
    dead = torch.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    if act_order and group > 0:
        for j in range(G):
            scale[:, j], zero[:, j] = qparams(W[:, j * g:(j + 1) * g], kind, bits)
    perm = torch.arange(C)
    if act_order:
        perm = torch.sort(torch.diag(H), descending=True, stable=True).indices
        W = W[:, perm]
        H = H[perm][:, perm]
    mean = torch.diag(H).mean()
    U, used = None, damp
    for t in range(MAX_RETRIES + 1):
        used = damp * 10 ** t
        try:
            Hd = H + used * mean * torch.eye(C, dtype=torch.float64)
            L = torch.linalg.cholesky(Hd)
            Hinv = torch.cholesky_inverse(L)
            U = torch.linalg.cholesky(Hinv, upper=True)
            if bool(torch.isfinite(U).all()) and bool((torch.diag(U) > 0).all()):
                break
            U = None
        except RuntimeError:
            U = None
    if U is None:
        raise ValueError("Hessian not positive definite at any dampening")
    Q = torch.zeros(R, C, dtype=torch.float32)
    codes = torch.zeros(R, C, dtype=torch.float32)
    for i1 in range(0, C, block):
        i2 = min(i1 + block, C)
        W1 = W[:, i1:i2].clone()
        Err = torch.zeros(R, i2 - i1, dtype=torch.float64)
        for i in range(i2 - i1):
            col = i1 + i
            if group > 0:
                if act_order:
                    j = int(perm[col]) // g
                elif col % g == 0:
                    j = col // g
                    scale[:, j], zero[:, j] = qparams(W[:, col:col + g], kind, bits)
                else:
                    j = col // g
            else:
                j = 0
            c, q = quant(W1[:, i], scale[:, j], zero[:, j], bits)
            Q[:, perm[col]] = q
            codes[:, perm[col]] = c
            err = (W1[:, i] - q.double()) / U[col, col]
            W1[:, i:] -= err[:, None] * U[col, col:i2][None, :]
            Err[:, i] = err
        W[:, i2:] -= Err @ U[i1:i2, i2:]
    return Q, codes.to(torch.uint8), used


def hf_name(m, li, key):
    names = ref_awq.OPT_NAMES if m.family == "opt" else ref_awq.LLAMA_NAMES
    pre = f"model.decoder.layers.{li}." if m.family == "opt" else f"model.layers.{li}."
    return pre + names[key] + ".weight"


def gptq_model(m, blocks, a, dtypes, log):
    hidden = ref_awq.embed(m, blocks)
    N, T = blocks.shape
    codes_out, report = {}, []
    for li in range(m.n_layers):
        t0 = time.time()
        L = dict(m.layers[li])
        outs, parts = [], {k: [] for k in ("qkv", "o", "mlp_in", "mlp_mid")}
        for b0 in range(0, N, ref_awq.SEQ_CHUNK):
            cap = {}
            outs.append(ref_awq.block_forward(m, L, hidden[b0:b0 + ref_awq.SEQ_CHUNK], cap))
            for k in parts:
                parts[k].append(cap[k])
        Hs = {}
        for k, v in parts.items():
            X = torch.cat(v, 0).reshape(N * T, -1).double()
            Hs[k] = 2.0 / (N * T) * (X.t() @ X)
        rec = {"layer": li, "damp_used": {}}
        for k in ref_awq.linears_of(m):
            Q, c, used = gptq_linear(L[k], Hs[INPUT_OF[k]], a.bits, a.group, a.quantizer, a.damp,
                                     a.block_size, a.act_order)
            L[k] = ref_awq.round_dtype(Q, dtypes[li][k])
            codes_out[hf_name(m, li, k)] = c.numpy()
            rec["damp_used"][k] = used
        m.layers[li] = L
        hidden = torch.cat(outs, 0)
        rec["seconds"] = round(time.time() - t0, 3)
        report.append(rec)
        if log:
            print(f"layer {li}: {rec['seconds']} s", file=sys.stderr, flush=True)
    return codes_out, report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer-bin")
    ap.add_argument("--tokenizer")
    ap.add_argument("--calib-text", required=True)
    ap.add_argument("--calib-ids")
    ap.add_argument("--calib-seqlen", type=int, default=512)
    ap.add_argument("--calib-samples", type=int, default=128)
    ap.add_argument("--calib-blocks")
    ap.add_argument("--text")
    ap.add_argument("--ids")
    ap.add_argument("--seqlen", type=int, required=True)
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--quantizer", choices=["minmax", "gptq-rtn", "rtn"], default="minmax")
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--damp", type=float, default=0.01)
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--act-order", action="store_true")
    ap.add_argument("--codes-out")
    ap.add_argument("--json-out")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if (a.text is None) == (a.ids is None):
        ap.error("give one of --text / --ids")
    if a.threads:
        torch.set_num_threads(a.threads)
    m = ref_model.load_model(a.model)
    dtypes = ref_awq.linear_dtypes(m, a.model)
    ids_all, pick, blocks = ref_awq.calib_ids(m, a)
    eval_ids, _ = ref_model.get_ids(m, a.model, text_file=a.text, ids_file=a.ids,
                                    tokenizer=a.tokenizer_bin or a.tokenizer)
    codes, report = gptq_model(m, blocks, a, dtypes, not a.quiet)
    r = ref_model.ppl_gptq(m, eval_ids, a.seqlen, a.max_windows)
    if a.codes_out:
        np.savez_compressed(a.codes_out, **codes)
    if a.json_out:
        doc = {"tool": "tools/ref_gptq.py", "model": a.model,
               "config": {"bits": a.bits, "group": a.group, "quantizer": a.quantizer,
                          "damp": a.damp, "block_size": a.block_size, "act_order": a.act_order},
               "calib": {"source": a.calib_text, "seqlen": a.calib_seqlen, "blocks": pick},
               "layers": report, "ppl": r["ppl"]}
        with open(a.json_out, "w") as f:
            json.dump(doc, f, indent=1)
    print(f"ppl={r['ppl']:.9g} tokens={r['tokens']} windows={r['windows']} seqlen={r['seqlen']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError, KeyError) as ex:
        print(f"ref_gptq: error: {ex}", file=sys.stderr)
        sys.exit(1)
