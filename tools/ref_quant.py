#!/usr/bin/python3
"""ref_quant.py — independent PyTorch reference of the weight quantizers (fake quantization).

Written from shared/design/METHODS.md "Quantizers" (and harness/quant/quant.h), not from the C
code. Per output row, in groups of g input channels (g = -1: the whole row; when g does not
divide cols the last group is shorter); b = bits, maxq = 2^b - 1; torch.round is half-to-even.
  minmax    scale = max(max - min, 1e-5) / maxq;  zero = clamp(-round(min / scale), 0, maxq)
            q = clamp(round(w / scale) + zero, 0, maxq);  w_hat = (q - zero) * scale
  rtn       scale = max|w| / (2^(b-1) - 1);  q = clamp(round(w / scale), -2^(b-1), 2^(b-1)-1)
            w_hat = q * scale; a group with scale 0 (all zeros) gives w_hat = 0
  gptq-rtn  min = min(min, 0), max = max(max, 0); max == min == 0 -> min = -1, max = 1;
            scale = (max - min) / maxq;  zero = round(-min / scale)
            q = clamp(round(w / scale) + zero, 0, maxq);  w_hat = (q - zero) * scale
All arithmetic is fp32 (torch CPU fp32 division is IEEE division, checked by `selftest`).
(q - zero) is formed in int32, so an exact zero comes back as +0.0, never -0.0 (rtn's q * scale
is written (q + 2^(b-1) - 2^(b-1)) * scale for the same reason) — the C code does the same,
which makes bit-for-bit comparison (memcmp) meaningful.

Usage
  /usr/bin/python3 tools/ref_quant.py fake --model PATH --kind minmax --bits 4 --group 128 \
      --out OUT
      PATH: HF checkpoint dir (OUT: a dir; config/tokenizer files copied, model.safetensors
      written in F32 with every decoder-block linear weight fake-quantized) or llama2.c .bin
      (OUT: a .bin of the same layout). Embeddings, norms, biases and the LM head stay as-is.
  /usr/bin/python3 tools/ref_quant.py vectors --out FILE.safetensors
      The golden test vectors (tests/fixtures/quant/, via tools/make-quant-fixtures).
  /usr/bin/python3 tools/ref_quant.py selftest
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import struct
import sys

import numpy as np
import torch

torch.set_grad_enabled(False)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_spec = importlib.util.spec_from_file_location("ref_model", os.path.join(HERE, "ref_model.py"))
ref_model = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref_model)

KINDS = ("rtn", "minmax", "gptq-rtn")

# --------------------------------------------------------------------------------------
# quantizers
# --------------------------------------------------------------------------------------


def _fake_group(w, kind, bits):
    """w: (rows, n) fp32 tensor, one group per row -> w_hat (rows, n)."""
    maxq = 2 ** bits - 1
    if kind == "rtn":
        half = 2 ** (bits - 1)
        scale = w.abs().amax(dim=1, keepdim=True) / float(half - 1)
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = torch.clamp(torch.round(w / safe), -half, half - 1)
        q = torch.where(scale > 0, q, torch.zeros_like(q))     # scale 0: all-zero group
        code = (q + half).to(torch.int32)
        return (code - half).to(torch.float32) * scale
    xmin = w.amin(dim=1, keepdim=True)
    xmax = w.amax(dim=1, keepdim=True)
    if kind == "minmax":
        scale = torch.clamp(xmax - xmin, min=1e-5) / float(maxq)
        zero = torch.clamp(-torch.round(xmin / scale), 0, maxq)
    elif kind == "gptq-rtn":
        z0 = torch.zeros_like(xmin)
        xmin = torch.minimum(xmin, z0)
        xmax = torch.maximum(xmax, z0)
        both = (xmin == 0) & (xmax == 0)
        xmin = torch.where(both, torch.full_like(xmin, -1.0), xmin)
        xmax = torch.where(both, torch.full_like(xmax, 1.0), xmax)
        scale = (xmax - xmin) / float(maxq)
        if bool((scale == 0).any()):     # subnormal-only group: codes 0, w_hat 0 (as the C code)
            raise ValueError("gptq-rtn: scale underflow (subnormal-only group) not modelled")
        zero = torch.round(-xmin / scale)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    q = torch.clamp(torch.round(w / scale) + zero, 0, maxq)
    return (q.to(torch.int32) - zero.to(torch.int32)).to(torch.float32) * scale


def fake_quant(w, kind, bits, group):
    """w: (rows, cols) fp32 tensor or array -> fake-quantized copy (torch fp32)."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: want one of {KINDS}")
    if not 2 <= bits <= 8:
        raise ValueError(f"bits {bits} outside 2..8")
    if group == 0 or group < -1:
        raise ValueError(f"group size {group}: want a positive size or -1")
    w = torch.as_tensor(np.asarray(w, dtype=np.float32)).clone()
    if w.dim() != 2:
        raise ValueError(f"want a 2-d weight, got shape {tuple(w.shape)}")
    cols = w.shape[1]
    g = cols if group == -1 else group
    out = torch.empty_like(w)
    for c0 in range(0, cols, g):
        c1 = min(c0 + g, cols)           # the last group may be shorter
        out[:, c0:c1] = _fake_group(w[:, c0:c1], kind, bits)
    return out


# --------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------

# Linear weights inside decoder blocks (llama / mistral / qwen2 and opt naming).
_LINEAR = re.compile(r"(^|\.)layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj|out_proj)"
                     r"|mlp\.(gate_proj|up_proj|down_proj)|fc1|fc2)\.weight$")


_COPY = ("config.json", "generation_config.json", "special_tokens_map.json", "vocab.json",
         "merges.txt")


def fake_checkpoint(path, out, kind, bits, group):
    if os.path.isdir(path):
        ref_model.load_model(path)       # validates the checkpoint the same way the reference does
        tensors = ref_model.load_hf_tensors(path)
        n = 0
        for name in sorted(tensors):
            if _LINEAR.search(name):
                tensors[name] = fake_quant(tensors[name], kind, bits, group).numpy()
                n += 1
        if n == 0:
            raise ValueError(f"{path}: no decoder-block linear weights found")
        os.makedirs(out, exist_ok=True)
        for fn in os.listdir(path):   # config and tokenizer files (not reference results)
            if fn in _COPY or fn.startswith("tokenizer"):
                shutil.copy(os.path.join(path, fn), os.path.join(out, fn))
        meta = {"quant": json.dumps({"kind": kind, "bits": bits, "group": group,
                                     "source": os.path.abspath(path), "tool": "ref_quant.py"})}
        ref_model.write_safetensors(os.path.join(out, "model.safetensors"), tensors, metadata=meta)
        return n
    # llama2.c .bin: header, then tok, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, ...
    with open(path, "rb") as f:
        buf = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", buf[:28])
    w = np.frombuffer(buf, dtype="<f4", offset=28).astype(np.float32).copy()
    ref_model.load_model(path)           # validates the size
    kvd = n_kv * (dim // n_heads)
    layout = [("tok", abs(vocab) * dim, None), ("rms_att", n_layers * dim, None),
              ("wq", n_layers * dim * dim, (dim, dim)), ("wk", n_layers * kvd * dim, (kvd, dim)),
              ("wv", n_layers * kvd * dim, (kvd, dim)), ("wo", n_layers * dim * dim, (dim, dim)),
              ("rms_ffn", n_layers * dim, None), ("w1", n_layers * hidden * dim, (hidden, dim)),
              ("w2", n_layers * dim * hidden, (dim, hidden)),
              ("w3", n_layers * hidden * dim, (hidden, dim))]
    off, n = 0, 0
    for _, size, shape in layout:
        if shape is not None:
            per = shape[0] * shape[1]
            for i in range(n_layers):
                a = off + i * per
                w[a:a + per] = fake_quant(w[a:a + per].reshape(shape), kind, bits,
                                          group).numpy().reshape(-1)
                n += 1
        off += size
    with open(out, "wb") as f:
        f.write(buf[:28])
        f.write(w.astype("<f4").tobytes())
    return n


# --------------------------------------------------------------------------------------
# golden test vectors
# --------------------------------------------------------------------------------------

BITS = (2, 3, 4, 8)
GROUPS = (32, 64, 128, -1)


def edge_matrix():
    """(8, 40) hand-made rows: ties, constant, all-zero, negative-only, tiny, mixed."""
    m = np.zeros((8, 40), np.float32)
    m[0] = np.arange(40, dtype=np.float32) * 0.25 - 5.0      # many exact .5 ties at b = 2..4
    m[1] = 0.75                                              # constant positive
    m[2] = 0.0                                               # all zeros
    m[3] = -np.linspace(0.1, 3.0, 40, dtype=np.float32)      # negative only
    m[4] = -2.0                                              # constant negative
    m[5] = 3e-6 * np.cos(np.arange(40, dtype=np.float32))    # range below minmax's 1e-5 floor
    m[6] = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)       # symmetric +-1
    r = np.random.default_rng(1234)
    m[7] = r.standard_normal(40).astype(np.float32)
    m[7, 5] = 0.0
    return m


def golden_inputs():
    """{name: (array, description)}: slices of the committed fixtures plus the edge matrix."""
    gqa = ref_model.read_safetensors(os.path.join(ROOT, "tests/fixtures/llama-gqa/model.safetensors"))
    opt = ref_model.read_safetensors(os.path.join(ROOT, "tests/fixtures/opt/model.safetensors"))
    fc1 = opt.get("model.decoder.layers.0.fc1.weight")
    if fc1 is None:
        fc1 = opt["decoder.layers.0.fc1.weight"]
    return {
        "llama-gqa.q_proj": (gqa["model.layers.0.self_attn.q_proj.weight"],
                             "tests/fixtures/llama-gqa model.layers.0.self_attn.q_proj.weight (all)"),
        "llama-gqa.down_proj": (gqa["model.layers.0.mlp.down_proj.weight"][:24],
                                "tests/fixtures/llama-gqa model.layers.0.mlp.down_proj.weight rows 0..23"),
        "opt.fc1": (fc1[:16], "tests/fixtures/opt model.decoder.layers.0.fc1.weight rows 0..15 (F16 widened)"),
        "edge": (edge_matrix(), "ref_quant.py edge_matrix(): ties, constant, zero, negative-only rows"),
    }


def write_vectors(out):
    tensors, desc = {}, {}
    for name, (w, d) in golden_inputs().items():
        w = np.ascontiguousarray(w, dtype=np.float32)
        tensors[name] = w
        desc[name] = d
        for kind in KINDS:
            for bits in BITS:
                for group in GROUPS:
                    tensors[f"{name}.{kind}.b{bits}.g{group}"] = fake_quant(w, kind, bits, group).numpy()
    meta = {"inputs": json.dumps(desc), "kinds": ",".join(KINDS),
            "bits": ",".join(map(str, BITS)), "groups": ",".join(map(str, GROUPS)),
            "generator": "tools/make-quant-fixtures (tools/ref_quant.py, torch %s)" % torch.__version__}
    ref_model.write_safetensors(out, tensors, metadata=meta)
    return len(tensors)


def selftest():
    # torch fp32 division must be IEEE division (double division rounded to fp32 is exact).
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1 << 20, generator=g)
    for d in (3.0, 7.0, 15.0, 127.0, 255.0):
        s = torch.full((1 << 20,), d)
        assert torch.equal(x / d, (x.double() / d).float()), d
        assert torch.equal(x / s, (x.double() / d).float()), d
    assert torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5, -2.5])).tolist() == [0, 2, 2, -0.0, -2]
    # a hand case: minmax b2 on [0, 1, 2, 3]: scale 1, zero 0, exact
    assert fake_quant([[0.0, 1.0, 2.0, 3.0]], "minmax", 2, -1).tolist() == [[0, 1, 2, 3]]
    # rtn b3 on [-3, 1.5, 2.5, 0.5]: scale 3/3 = 1, round half even -> [-3, 2, 2, 0]
    assert fake_quant([[-3.0, 1.5, 2.5, 0.5]], "rtn", 3, -1).tolist() == [[-3, 2, 2, 0]]
    print("selftest ok")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fake")
    f.add_argument("--model", required=True)
    f.add_argument("--kind", choices=KINDS, required=True)
    f.add_argument("--bits", type=int, required=True)
    f.add_argument("--group", type=int, required=True)
    f.add_argument("--out", required=True)
    v = sub.add_parser("vectors")
    v.add_argument("--out", required=True)
    sub.add_parser("selftest")
    a = ap.parse_args(argv)
    if a.cmd == "fake":
        n = fake_checkpoint(a.model, a.out, a.kind, a.bits, a.group)
        print(f"fake-quantized {n} weights ({a.kind} b{a.bits} g{a.group}) -> {a.out}")
    elif a.cmd == "vectors":
        n = write_vectors(a.out)
        print(f"wrote {n} tensors -> {a.out} ({os.path.getsize(a.out)} bytes)")
    else:
        selftest()


if __name__ == "__main__":
    sys.exit(main())
