#!/usr/bin/python3
"""ref_awq.py — independent PyTorch reference of AWQ exactly as docs/AWQ.md states it.

Written from docs/AWQ.md and shared/design/METHODS.md (AWQ section), not from llm-awq /
AutoAWQ and not from the C code. Uses tools/ref_model.py (loaders, norms, rotary, perplexity,
tokenizers) and tools/ref_quant.py (the quantizers, bit-exact with the C ones). fp32 compute;
statistics, scale formulas and loss/error sums in float64 (see "Choices" below).

Pipeline (layer-major, docs/AWQ.md "Blocks, layer-major")
  calibration ids (the whole text tokenized like the eval text, BOS included when the
  tokenizer adds one) cut into non-overlapping blocks of L tokens; blocks = the first N
  (--calib-samples N) or the listed indices (--calib-blocks FILE, one 0-based index a line, as
  the C side prints them). Then for every decoder block l:
  1 capture (FP block): per input group qkv / o / gate_up (fc1 for OPT) / down (fc2):
    x_mean = float64 sum of |x| over all N*L tokens / (N*L); x_max = max |x|; the inputs of the
    first K (--awq-samples, default N) sequences; the clip rows r % stride == 0,
    stride = max(1, N*L // 512), at most 512 (r = sequence * L + position).
  2 scale search per group on the original weights / inputs (rules search, duo, fixed; grid
    i/P, i = 0..P-1, or 0..P with --grid-include-one; --alpha A = a one-point grid);
    W' = Q(W * s) / s; loss = mean (y_fp - y_cand)^2 on the module output (table of AWQ.md);
    first minimum kept.
  3 apply: linears W[:, j] *= s_j, previous op / s (norm weight (+ LayerNorm bias), or rows
    (+ bias) of the previous linear). The o group exists only when v and o shapes match.
  4 clip (--clip on): every linear but q, k; shrink t = m * (1 - k/20), k = 0..9, per
    (row, quant group), error on the strided rows of the scaled input x / s.
  5 quantize every linear (--quantizer, --bits, --group), round to the checkpoint dtype.
  Hidden states for block l+1: FP block output (--propagate fp) or the output of the finished
  (folded, clipped, quantized) block (--propagate quantized).
  Then perplexity with ref_model's gptq protocol on the eval ids.

Choices where docs/AWQ.md leaves room (the C side should match these)
  * scales: x_mean in float64; s computed in float64 (pow, +1e-4, clamp at 1e-4, normalise
    s / sqrt(max(s) * min(s))), then rounded once to fp32; all weight arithmetic is fp32.
  * duo: w_mean[j] = float64 mean over the rows of all linears of the group of the fp32 ratio
    |W[i,j]| / max_{j' in quant group} |W[i,j']| (a ratio 0/0 of an all-zero group counts 0).
    alpha = 0 with duo is NOT s = 1 (s = 1 / (w_mean + 1e-4), normalised).
  * fixed: max_i |W[i,j]| over the rows of all linears of the group; an all-zero column gives
    s_j = 1e-4 (the clamp), as a zero x_mean channel does.
  * loss: y computed in fp32 (bias included on both sides), the difference in fp32, squared
    and averaged in float64. First minimum: strict <, so ties keep the smaller alpha.
  * apply order: groups in table order qkv, o, gate_up (fc1), down (fc2); so v gets
    W[:, j] *= s_qkv first, then rows (and bias) /= s_o (and up / fc1: columns, then rows).
    Divisions are fp32 (w / s), multiplications fp32 (w * s).
  * clip: t = fp32(m) * fp32(1 - k/20); per clip row the two dot products x.Q(Wc) and x.W are
    fp32, their difference squared and averaged in float64; strict < (first minimum); the
    clip inputs are the captured ORIGINAL inputs of the group divided (fp32) by the group's s
    (s = 1 for a group that is not scaled, e.g. o with GQA). Clipping runs after all groups
    are applied, linears in order v, o, gate, up, down (fc1, fc2), each on its own weights.
  * dtype rounding (F16 / BF16 checkpoints): only the quantized linears are rounded to the
    checkpoint dtype (as the C baselines do); folded norm weights / biases and divided biases
    stay fp32.
  * the loss of the qkv group runs full causal attention (rotary / OPT q scaling) per
    sequence, then the FP o_proj (+ bias); OPT's q scaling D^-0.5 is applied after the q bias.

Usage
  /usr/bin/python3 tools/ref_awq.py --model PATH [--tokenizer-bin tok.bin | --tokenizer DIR]
      (--calib-text FILE | --calib-ids FILE) --calib-seqlen L
      (--calib-samples N | --calib-blocks FILE) [--awq-samples K]
      (--text FILE | --ids FILE) --seqlen S [--max-windows W]
      [--rule search|duo|fixed] [--alpha A] [--grid-points 20] [--grid-include-one]
      [--clip on|off] [--quantizer minmax|rtn|gptq-rtn] [--bits 4] [--group 128]
      [--propagate fp|quantized] [--json-out FILE] [--fp-ppl] [--threads T]
  --check-folding random|searched: apply scales (random positive, seeded by --seed, or the
      searched ones) with no clipping and no quantization, and report the max relative
      difference of the logits on the first eval window (--max-windows windows) vs the
      original model. Last line "folding max_rel_diff=...".
  The last stdout line is "ppl=... tokens=... windows=... seqlen=..." otherwise.
"""
import argparse
import importlib.util
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

torch.set_grad_enabled(False)
HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ref_model = _load("ref_model")
ref_quant = _load("ref_quant")

CLIP_MAX_ROWS = 512
CLIP_STEPS = 10           # shrink 1 - k/20, k = 0..9 (1.00 .. 0.55)
SEQ_CHUNK = 8             # sequences per batched forward (memory of the (B, H, T, T) scores)

# --------------------------------------------------------------------------------------
# checkpoint dtypes (the linears are rounded to them after quantization)
# --------------------------------------------------------------------------------------


def _st_dtypes(model_dir):
    out = {}
    names = [f for f in os.listdir(model_dir) if f.endswith(".safetensors")]
    for fn in names:
        with open(os.path.join(model_dir, fn), "rb") as f:
            (hlen,) = struct.unpack("<Q", f.read(8))
            h = json.loads(f.read(hlen).decode("utf-8"))
        for k, v in h.items():
            if k != "__metadata__":
                out[k] = v["dtype"]
    return out


LLAMA_NAMES = {"wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj",
               "wo": "self_attn.o_proj", "w_gate": "mlp.gate_proj", "w_up": "mlp.up_proj",
               "w_down": "mlp.down_proj"}
OPT_NAMES = {"wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj",
             "wo": "self_attn.out_proj", "fc1_w": "fc1", "fc2_w": "fc2"}


def linear_dtypes(m, path):
    """[{linear key: 'F32'|'F16'|'BF16'}] per layer."""
    if not os.path.isdir(path):
        return [{k: "F32" for k in LLAMA_NAMES} for _ in range(m.n_layers)]
    dt = _st_dtypes(path)
    res = []
    for i in range(m.n_layers):
        d = {}
        names = OPT_NAMES if m.family == "opt" else LLAMA_NAMES
        for k, n in names.items():
            pre = f"model.decoder.layers.{i}." if m.family == "opt" else f"model.layers.{i}."
            full = pre + n + ".weight"
            alt = full[len("model."):]
            d[k] = dt.get(full, dt.get(alt, "F32"))
        res.append(d)
    return res


def round_dtype(w, dt):
    if dt == "F32":
        return w
    if dt == "F16":
        return w.half().float()
    if dt == "BF16":
        bits = ref_model.f32_to_bf16_bits(w.numpy()).astype(np.uint32) << 16
        return torch.from_numpy(bits.view(np.float32).copy())
    raise ValueError(dt)


# --------------------------------------------------------------------------------------
# batched block pieces: x (B, T, C)
# --------------------------------------------------------------------------------------


def attn_core(m, L, h, wq, wk, wv):
    """Attention output before o_proj, (B, T, H*D), from the normed input h (B, T, C)."""
    B, T, _ = h.shape
    H, G, D = m.n_heads, m.n_kv_heads, m.head_dim
    out = []
    for b0 in range(0, B, SEQ_CHUNK):
        hb = h[b0:b0 + SEQ_CHUNK]
        nb = hb.shape[0]
        q = ref_model.linear(hb, wq, L.get("bq"))
        if m.family == "opt":
            q = q * (D ** -0.5)
        q = q.view(nb, T, H, D).transpose(1, 2)
        k = ref_model.linear(hb, wk, L.get("bk")).view(nb, T, G, D).transpose(1, 2)
        v = ref_model.linear(hb, wv, L.get("bv")).view(nb, T, G, D).transpose(1, 2)
        if m.family != "opt":
            pos = torch.arange(T)
            rope = ref_model.rope_half if m.rope == "half" else ref_model.rope_interleaved
            q, k = rope(q, pos, m.theta), rope(k, pos, m.theta)
            scale = 1.0 / math.sqrt(D)
        else:
            scale = 1.0
        if H // G > 1:
            k = k.repeat_interleave(H // G, dim=1)
            v = v.repeat_interleave(H // G, dim=1)
        s = (q @ k.transpose(2, 3)) * scale
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        out.append((p @ v).transpose(1, 2).reshape(nb, T, H * D))
    return torch.cat(out, 0)


def norm1(m, L, x):
    if m.family == "opt":
        return ref_model.layer_norm(x, L["attn_ln_w"], L["attn_ln_b"], m.eps)
    return ref_model.rms_norm(x, L["attn_norm"], m.eps)


def norm2(m, L, x):
    if m.family == "opt":
        return ref_model.layer_norm(x, L["mlp_ln_w"], L["mlp_ln_b"], m.eps)
    return ref_model.rms_norm(x, L["mlp_norm"], m.eps)


def block_forward(m, L, x, cap=None):
    """One decoder block on x (B, T, C); cap: dict filled with the inputs of the linear groups."""
    h = norm1(m, L, x)
    a = attn_core(m, L, h, L["wq"], L["wk"], L["wv"])
    x = x + ref_model.linear(a, L["wo"], L.get("bo"))
    h2 = norm2(m, L, x)
    if m.family == "opt":
        d = torch.relu(ref_model.linear(h2, L["fc1_w"], L["fc1_b"]))
        x = x + ref_model.linear(d, L["fc2_w"], L["fc2_b"])
    else:
        d = torch.nn.functional.silu(ref_model.linear(h2, L["w_gate"])) * ref_model.linear(h2, L["w_up"])
        x = x + ref_model.linear(d, L["w_down"])
    if cap is not None:
        cap["qkv"], cap["o"], cap["mlp_in"], cap["mlp_mid"] = h, a, h2, d
    return x


def embed(m, ids):
    """ids (N, L) -> hidden (N, L, C)."""
    idx = torch.as_tensor(ids, dtype=torch.long)
    x = m.g["embed"][idx]
    if m.family == "opt":
        if m.g.get("project_in") is not None:
            x = x @ m.g["project_in"].t()
        x = x + m.g["pos"][torch.arange(idx.shape[1]) + 2]
    return x


# --------------------------------------------------------------------------------------
# scaling groups (docs/AWQ.md table)
# --------------------------------------------------------------------------------------


def groups_of(m, L):
    """[(name, input key, prev, linears, loss)]; prev = ('norm', w, b) or ('rows', w, b)."""
    if m.family == "opt":
        return [
            ("qkv", "qkv", ("norm", "attn_ln_w", "attn_ln_b"), ["wq", "wk", "wv"], "attn"),
            ("o", "o", ("rows", "wv", "bv"), ["wo"], "linear"),
            ("fc1", "mlp_in", ("norm", "mlp_ln_w", "mlp_ln_b"), ["fc1_w"], "linear"),
            ("fc2", "mlp_mid", ("rows", "fc1_w", "fc1_b"), ["fc2_w"], "linear"),
        ]
    g = [("qkv", "qkv", ("norm", "attn_norm", None), ["wq", "wk", "wv"], "attn")]
    if tuple(L["wv"].shape) == tuple(L["wo"].shape):      # no GQA
        g.append(("o", "o", ("rows", "wv", "bv"), ["wo"], "linear"))
    g.append(("gate_up", "mlp_in", ("norm", "mlp_norm", None), ["w_gate", "w_up"], "mlp"))
    g.append(("down", "mlp_mid", ("rows", "w_up", None), ["w_down"], "linear"))
    return g


def linears_of(m):
    if m.family == "opt":
        return ["wq", "wk", "wv", "wo", "fc1_w", "fc2_w"]
    return ["wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down"]


BIAS_OF = {"wq": "bq", "wk": "bk", "wv": "bv", "wo": "bo", "fc1_w": "fc1_b", "fc2_w": "fc2_b"}


def module_out(m, L, loss, lin, W, x):
    """Output of the module a group feeds, with the group's linears from W (others: L)."""
    if loss == "linear":
        (k,) = lin
        return ref_model.linear(x, W[k], L.get(BIAS_OF.get(k)))
    if loss == "attn":
        a = attn_core(m, L, x, W["wq"], W["wk"], W["wv"])
        return ref_model.linear(a, L["wo"], L.get("bo"))
    if loss == "mlp":
        d = torch.nn.functional.silu(ref_model.linear(x, W["w_gate"])) * ref_model.linear(x, W["w_up"])
        return ref_model.linear(d, L["w_down"])
    raise ValueError(loss)


def qgroups(cols, group):
    g = cols if group == -1 else group
    return [(c0, min(c0 + g, cols)) for c0 in range(0, cols, g)]


def duo_w_mean(ws, group):
    """float64 [I]: mean over all rows of all linears of |W[i,j]| / max over j's quant group."""
    cols = ws[0].shape[1]
    acc = torch.zeros(cols, dtype=torch.float64)
    rows = 0
    for w in ws:
        a = w.abs()
        r = torch.empty_like(a)
        for c0, c1 in qgroups(cols, group):
            mx = a[:, c0:c1].amax(dim=1, keepdim=True)
            safe = torch.where(mx > 0, mx, torch.ones_like(mx))
            r[:, c0:c1] = torch.where(mx > 0, a[:, c0:c1] / safe, torch.zeros_like(a[:, c0:c1]))
        acc += r.double().sum(0)
        rows += w.shape[0]
    return acc / rows


def make_scales(rule, alpha, x_mean, x_max, ws, group, w_mean=None):
    """fp32 scales [I] (computed in float64, rounded once)."""
    if rule == "search":
        s = x_mean.pow(alpha)
    elif rule == "duo":
        s = x_mean.pow(alpha) / (w_mean.pow(1.0 - alpha) + 1e-4)
    elif rule == "fixed":
        wmax = torch.stack([w.abs().amax(0) for w in ws]).amax(0).double()
        num = x_max.double().pow(alpha)
        s = torch.where(wmax > 0, num / torch.where(wmax > 0, wmax, torch.ones_like(wmax)),
                        torch.full_like(num, 1e-4))
    else:
        raise ValueError(rule)
    s = s.clamp(min=1e-4)
    s = s / math.sqrt(float(s.max()) * float(s.min()))
    return s.to(torch.float32)


def fq(w, a):
    return ref_quant.fake_quant(w, a.quantizer, a.bits, a.group)


def mse64(y0, y1):
    return float(((y0 - y1).double() ** 2).mean())


def search_group(m, L, grp, cap, a, grid):
    name, inkey, prev, lin, loss = grp
    st = cap["stats"][inkey]
    ws = [L[k] for k in lin]
    x = cap["loss_in"][inkey]
    y_fp = module_out(m, L, loss, lin, {k: L[k] for k in lin}, x)
    w_mean = duo_w_mean(ws, a.group) if a.rule == "duo" else None
    losses, best, best_i, best_s = [], math.inf, -1, None
    for i, alpha in enumerate(grid):
        s = make_scales(a.rule, alpha, st["x_mean"], st["x_max"], ws, a.group, w_mean)
        W = {k: fq(L[k] * s, a) / s for k in lin}
        l = mse64(y_fp, module_out(m, L, loss, lin, W, x))
        losses.append(l)
        if l < best:
            best, best_i, best_s = l, i, s
    return {"linears": lin, "alpha": grid[best_i], "alpha_index": best_i, "grid": grid,
            "loss": losses, "scales": best_s}


def apply_group(L, grp, s):
    name, inkey, (kind, pw, pb), lin, loss = grp
    for k in lin:
        L[k] = L[k] * s[None, :]
    if kind == "norm":
        L[pw] = L[pw] / s
        if pb is not None:
            L[pb] = L[pb] / s
    else:
        L[pw] = L[pw] / s[:, None]
        if pb is not None and L.get(pb) is not None:
            L[pb] = L[pb] / s


def clip_linear(W, x, a):
    """W (R, I) scaled weights, x (n, I) scaled clip inputs -> (clipped W, chosen k per (row, group))."""
    W = W.clone()
    R, I = W.shape
    ks = []
    for c0, c1 in qgroups(I, a.group):
        Wg = W[:, c0:c1]
        xg = x[:, c0:c1]
        m = Wg.abs().amax(dim=1, keepdim=True)
        # float64 dot products (docs/AWQ.md step 4): summation order then cannot flip near-ties
        xd = xg.double()
        ref = xd @ Wg.t().double()                              # (n, R)
        best = torch.full((R,), math.inf, dtype=torch.float64)
        bk = torch.zeros(R, dtype=torch.long)
        bt = m.clone()
        for k in range(CLIP_STEPS):
            t = m * torch.tensor(1.0 - k / 20.0, dtype=torch.float32)
            Wc = torch.maximum(torch.minimum(Wg, t), -t)
            q = ref_quant._fake_group(Wc, a.quantizer, a.bits)
            err = ((xd @ q.t().double() - ref) ** 2).mean(0)
            better = err < best
            best = torch.where(better, err, best)
            bk = torch.where(better, torch.full_like(bk, k), bk)
            bt = torch.where(better[:, None], t, bt)
        W[:, c0:c1] = torch.maximum(torch.minimum(Wg, bt), -bt)
        ks.append(bk)
    return W, torch.stack(ks, 1)          # (R, groups)


# --------------------------------------------------------------------------------------
# the layer-major pass
# --------------------------------------------------------------------------------------


def capture(m, L, hidden, K, out_keys, layer=0):
    """Runs the FP block over hidden (N, T, C). Returns (output, cap)."""
    N, T, _ = hidden.shape
    outs, parts = [], {k: [] for k in out_keys}
    for b0 in range(0, N, SEQ_CHUNK):
        c = {}
        outs.append(block_forward(m, L, hidden[b0:b0 + SEQ_CHUNK], c))
        for k in out_keys:
            parts[k].append(c[k])
    full = {k: torch.cat(v, 0) for k, v in parts.items()}
    stride = max(1, (N * T) // CLIP_MAX_ROWS)
    rows = torch.arange(0, N * T, stride)[:CLIP_MAX_ROWS]
    stats, loss_in, clip_in = {}, {}, {}
    for k, v in full.items():
        flat = v.reshape(N * T, -1)
        xm = flat.abs().double().sum(0) / (N * T)
        if not bool(torch.isfinite(xm).all()):
            raise ValueError(f"layer {layer}: non-finite activations (x_mean) at the {k} input")
        stats[k] = {"x_mean": xm, "x_max": flat.abs().amax(0)}
        loss_in[k] = v[:K]
        clip_in[k] = flat[rows]
    return torch.cat(outs, 0), {"stats": stats, "loss_in": loss_in, "clip_in": clip_in}


def grid_of(a):
    if a.alpha is not None:
        return [float(a.alpha)]
    n = a.grid_points
    top = n + 1 if a.grid_include_one else n
    return [i / n for i in range(top)]


def awq_model(m, calib_blocks, a, dtypes, log, mode="quant"):
    """mode 'quant': the full method; 'scale': search + apply only (no clip, no quantization);
    'random': random positive scales applied (folding check). Modifies m.layers in place."""
    N = calib_blocks.shape[0]
    K = N if a.awq_samples is None else min(a.awq_samples, N)
    hidden = embed(m, calib_blocks)
    grid = grid_of(a)
    gen = torch.Generator().manual_seed(a.seed)
    report = []
    for li in range(m.n_layers):
        t0 = time.time()
        L0 = m.layers[li]
        L = dict(L0)
        fp_out, cap = capture(m, L0, hidden, K, ["qkv", "o", "mlp_in", "mlp_mid"], li)
        grps = groups_of(m, L0)
        rec = {"layer": li, "groups": {}}
        scales = {}
        t_s0 = time.time()
        for g in grps:
            if mode == "random":
                I = L0[g[3][0]].shape[1]
                s = torch.exp((torch.rand(I, generator=gen, dtype=torch.float64) * 2 - 1)).float()
                r = {"linears": g[3], "scales": s, "alpha": None}
            else:
                r = search_group(m, L0, g, cap, a, grid)
            scales[g[0]] = r["scales"]
            rec["groups"][g[0]] = r
        for g in grps:                        # apply in table order
            apply_group(L, g, scales[g[0]])
        t_search = time.time() - t_s0
        if mode == "quant":
            scale_of_lin, in_of_lin = {}, {}
            for g in grps:
                for k in g[3]:
                    scale_of_lin[k] = scales[g[0]]
                    in_of_lin[k] = g[1]
            # linears with no scaling group (o with GQA): s = 1, input "o"
            for k in linears_of(m):
                if k not in in_of_lin:
                    in_of_lin[k] = "o"
                    scale_of_lin[k] = torch.ones(L[k].shape[1])
            rec["clip"] = {}
            if a.clip == "on":
                for k in linears_of(m):
                    if k in ("wq", "wk"):
                        continue
                    x = cap["clip_in"][in_of_lin[k]] / scale_of_lin[k][None, :]
                    L[k], ks = clip_linear(L[k], x, a)
                    rec["clip"][k] = ["".join(str(int(v)) for v in row) for row in ks]
            t_search = time.time() - t_s0
            for k in linears_of(m):
                L[k] = round_dtype(fq(L[k], a), dtypes[li][k])
        m.layers[li] = L
        if a.propagate == "quantized" and mode == "quant":
            outs = [block_forward(m, L, hidden[b0:b0 + SEQ_CHUNK]) for b0 in range(0, N, SEQ_CHUNK)]
            hidden = torch.cat(outs, 0)
        else:
            hidden = fp_out
        for g in rec["groups"].values():
            g["scales"] = [float(v) for v in g["scales"]]
        rec["seconds"] = round(time.time() - t0, 3)
        rec["search_seconds"] = round(t_search, 3)
        report.append(rec)
        if log:
            al = " ".join(f"{n}={g['alpha']}" for n, g in rec["groups"].items())
            print(f"layer {li}: {al} ({rec['seconds']} s)", file=sys.stderr, flush=True)
    return report


# --------------------------------------------------------------------------------------
# glue
# --------------------------------------------------------------------------------------


def calib_ids(m, a):
    ids, _ = ref_model.get_ids(m, a.model, text_file=a.calib_text, ids_file=a.calib_ids,
                               tokenizer=a.tokenizer_bin or a.tokenizer)
    Lc = a.calib_seqlen
    if Lc > m.max_seq:
        raise ValueError(f"--calib-seqlen {Lc} exceeds the model maximum {m.max_seq}")
    nblocks = len(ids) // Lc
    if nblocks < 1:
        raise ValueError(f"calibration: {len(ids)} tokens, not one block of {Lc}")
    if a.calib_blocks:
        with open(a.calib_blocks) as f:
            pick = [int(s) for s in f.read().split()]
        bad = [p for p in pick if not 0 <= p < nblocks]
        if bad:
            raise ValueError(f"--calib-blocks: indices {bad[:5]} outside 0..{nblocks - 1}")
    else:
        pick = list(range(min(a.calib_samples, nblocks)))
    blocks = np.array([ids[p * Lc:(p + 1) * Lc] for p in pick], dtype=np.int64)
    return ids, pick, blocks


def _num(v):
    if isinstance(v, float):
        if v != v:
            return "null"
        return "%.9g" % v if math.isfinite(v) else json.dumps(v)
    return json.dumps(v)


def compact_json(o, ind=0):
    """JSON with one key a line, lists of scalars (and of lists of scalars) on one line.
    Floats with 9 significant digits (exact for fp32 values such as the scales)."""
    pad = " " * (ind + 1)
    if isinstance(o, dict):
        if not o:
            return "{}"
        items = [f"{pad}{json.dumps(str(k))}: {compact_json(v, ind + 1)}" for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * ind + "}"
    if isinstance(o, (list, tuple)):
        if any(isinstance(v, dict) for v in o):
            return "[\n" + ",\n".join(pad + compact_json(v, ind + 1) for v in o) + "\n" + " " * ind + "]"
        return "[" + ", ".join(compact_json(v, ind) for v in o) + "]"
    return _num(o)


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer-bin")
    ap.add_argument("--tokenizer")
    ap.add_argument("--calib-text")
    ap.add_argument("--calib-ids")
    ap.add_argument("--calib-seqlen", type=int, default=512)
    ap.add_argument("--calib-samples", type=int, default=128)
    ap.add_argument("--calib-blocks")
    ap.add_argument("--awq-samples", type=int)
    ap.add_argument("--text")
    ap.add_argument("--ids")
    ap.add_argument("--seqlen", type=int, required=True)
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--rule", choices=["search", "duo", "fixed"], default="search")
    ap.add_argument("--alpha", type=float)
    ap.add_argument("--grid-points", type=int, default=20)
    ap.add_argument("--grid-include-one", action="store_true")
    ap.add_argument("--clip", choices=["on", "off"], default="on")
    ap.add_argument("--quantizer", choices=list(ref_quant.KINDS), default="minmax")
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--propagate", choices=["fp", "quantized"], default="fp")
    ap.add_argument("--json-out")
    ap.add_argument("--fp-ppl", action="store_true", help="also evaluate the FP model")
    ap.add_argument("--check-folding", choices=["random", "searched"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if (a.calib_text is None) == (a.calib_ids is None):
        ap.error("give one of --calib-text / --calib-ids")
    if (a.text is None) == (a.ids is None):
        ap.error("give one of --text / --ids")
    if a.rule == "fixed" and a.alpha is None:
        ap.error("--rule fixed needs --alpha")
    if a.grid_points < 1:
        ap.error("--grid-points must be >= 1")
    return a


def main(argv=None):
    a = parse(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    t_start = time.time()
    m = ref_model.load_model(a.model)
    if m.family == "opt" and not m.pre_ln:
        raise ValueError("post-LN OPT (do_layer_norm_before false) has no norm to fold into")
    dtypes = linear_dtypes(m, a.model)
    ids_all, pick, blocks = calib_ids(m, a)
    eval_ids, _ = ref_model.get_ids(m, a.model, text_file=a.text, ids_file=a.ids,
                                    tokenizer=a.tokenizer_bin or a.tokenizer)
    t_tok = time.time() - t_start
    log = not a.quiet
    if log:
        print(f"calibration: {len(ids_all)} tokens, {blocks.shape[0]} blocks of {a.calib_seqlen}; "
              f"eval: {len(eval_ids)} tokens ({t_tok:.1f} s loading + tokenizing)", file=sys.stderr)

    if a.check_folding:
        import copy
        m0 = copy.copy(m)
        m0.layers = [dict(L) for L in m.layers]
        W = a.max_windows or 1
        awq_model(m, blocks, a, dtypes, log, mode="random" if a.check_folding == "random" else "scale")
        worst_rel, worst_abs = 0.0, 0.0
        for w in range(min(W, len(eval_ids) // a.seqlen)):
            win = eval_ids[w * a.seqlen:(w + 1) * a.seqlen]
            y0 = ref_model.forward(m0, win)
            y1 = ref_model.forward(m, win)
            d = float((y0 - y1).abs().max())
            worst_abs = max(worst_abs, d)
            worst_rel = max(worst_rel, d / float(y0.abs().max()))
        print(f"folding scales={a.check_folding} windows={W} max_abs_diff={worst_abs:.6g} "
              f"max_rel_diff={worst_rel:.6g}")
        return 0 if worst_rel < 1e-4 else 1

    fp = None
    if a.fp_ppl:
        fp = ref_model.ppl_gptq(m, eval_ids, a.seqlen, a.max_windows)["ppl"]
    t0 = time.time()
    report = awq_model(m, blocks, a, dtypes, log)
    t_awq = time.time() - t0
    t0 = time.time()
    r = ref_model.ppl_gptq(m, eval_ids, a.seqlen, a.max_windows)
    t_eval = time.time() - t0
    if a.json_out:
        doc = {
            "tool": "tools/ref_awq.py",
            "model": a.model,
            "family": m.family,
            "config": {"rule": a.rule, "alpha": a.alpha, "grid": grid_of(a), "clip": a.clip,
                       "quantizer": a.quantizer, "bits": a.bits, "group": a.group,
                       "propagate": a.propagate, "awq_samples": a.awq_samples or len(pick)},
            "calib": {"source": a.calib_text or a.calib_ids, "tokens": len(ids_all),
                      "seqlen": a.calib_seqlen, "blocks": pick,
                      "ids_sha256": ref_model.ids_sha256(ids_all)},
            "eval": {"source": a.text or a.ids, "tokens": r["tokens"], "windows": r["windows"],
                     "seqlen": r["seqlen"], "ids_sha256": ref_model.ids_sha256(eval_ids)},
            "layers": report,
            "fp_ppl": fp,
            "ppl": r["ppl"],
            "nll_per_window": r["nll_per_window"],
        }
        with open(a.json_out, "w") as f:
            f.write(compact_json(doc) + "\n")
    if log:
        t_search = sum(rec["search_seconds"] for rec in report)
        print(f"timing: awq {t_awq:.1f} s (search + clip {t_search:.2f} s), eval {t_eval:.1f} s, total {time.time() - t_start:.1f} s",
              file=sys.stderr)
    line = f"ppl={r['ppl']:.9g} tokens={r['tokens']} windows={r['windows']} seqlen={r['seqlen']}"
    if fp is not None:
        line += f" fp_ppl={fp:.9g}"
    print(line)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError, KeyError) as ex:
        print(f"ref_awq: error: {ex}", file=sys.stderr)
        sys.exit(1)
