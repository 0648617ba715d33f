#!/usr/bin/python3
"""ref_model.py — independent fp32 PyTorch reference forward pass and perplexity.

Written from the HuggingFace model definitions (LlamaForCausalLM / MistralForCausalLM /
Qwen2ForCausalLM / OPTForCausalLM) and karpathy's llama2.c run.c, without importing
`transformers` (not installed here). It is the oracle the C harness is tested against:
tests/fixtures/*/expected.json are produced with it (tools/make-fixtures), and
tests/cli/test_stories260k_ppl.sh runs it live.

Supported checkpoints
  * HF directory: config.json + model.safetensors (or model.safetensors.index.json shards),
    dtypes F32 / F16 / BF16; model_type llama, mistral, qwen2 (llama + q/k/v biases), opt.
    Everything is widened to fp32 before any arithmetic; all compute is fp32.
  * llama2.c legacy .bin (7 x int32 header, fp32 weights; negative vocab_size => untied
    classifier at the end), rotary on interleaved pairs (2i, 2i+1).

Usage
  /usr/bin/python3 tools/ref_model.py --model PATH [--tokenizer-bin tok.bin | --tokenizer DIR]
      (--ids FILE | --text FILE) --seqlen N [--protocol gptq|llamacpp] [--max-windows K]
      [--logits-out FILE [--logits-positions 8]] [--ids-out FILE] [--per-window]
  The last stdout line is "ppl=... tokens=... windows=... seqlen=..." (llamacpp adds
  scored=... nll_stderr=... ppl_stderr=...). tokens = number of token ids of the whole text
  (BOS included when the tokenizer adds one), for both protocols.

Protocols (see shared/design/METHODS.md)
  gptq      W = numel // seqlen windows (tail dropped, --max-windows caps W); window w =
            ids[w*seqlen:(w+1)*seqlen]; per window mean NLL of the seqlen-1 shifted targets;
            ppl = exp(mean over windows of the window means).
  llamacpp  n_ctx = seqlen chunks (numel // n_ctx), first token of every chunk replaced by
            BOS (when the tokenizer adds a BOS), positions j in [n_ctx/2, n_ctx-2] score
            token j+1; ppl = exp(mean NLL over all scored tokens); stderr of the mean NLL =
            sqrt((E[nll^2] - E[nll]^2) / (N - 1)), printed as llama.cpp does.
"""
import argparse
import heapq
import json
import math
import os
import struct
import subprocess
import sys

import numpy as np
import torch

torch.set_grad_enabled(False)
HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------------------
# safetensors (parsed by hand: 8-byte LE header length, JSON header, raw little-endian data)
# --------------------------------------------------------------------------------------

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64,
              "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    """Returns {name: fp32 numpy array} for every tensor in one .safetensors file."""
    with open(path, "rb") as f:
        buf = f.read()
    (hlen,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, shape, (a, b) = info["dtype"], info["shape"], info["data_offsets"]
        raw = buf[base + a: base + b]
        if dt == "BF16":
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
            arr = (u16 << 16).view(np.float32)
        elif dt in _NP_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_NP_DTYPES[dt]).newbyteorder("<"))
            arr = arr.astype(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        n = int(np.prod(shape)) if shape else 1
        if arr.size != n:
            raise ValueError(f"{path}: tensor {name}: {arr.size} values for shape {shape}")
        out[name] = arr.reshape(shape).copy()
    return out


def write_safetensors(path, tensors, dtypes=None, metadata=None):
    """tensors: {name: fp32 numpy array}; dtypes: {name: 'F32'|'F16'|'BF16'|'U8'} (default F32;
    U8 takes integer values 0..255).
    Tensors are written in sorted-name order; the header is padded with spaces to 8 bytes."""
    dtypes = dtypes or {}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype=np.float32)
        dt = dtypes.get(name, "F32")
        if dt == "F32":
            raw = a.astype("<f4").tobytes()
        elif dt == "F16":
            raw = a.astype("<f2").tobytes()
        elif dt == "BF16":
            raw = f32_to_bf16_bits(a).astype("<u2").tobytes()
        elif dt == "U8":
            raw = a.astype(np.uint8).tobytes()
        else:
            raise ValueError(dt)
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def f32_to_bf16_bits(a):
    """Round-to-nearest-even fp32 -> bf16 bit patterns (uint16)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def load_hf_tensors(model_dir):
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        files = [single]
    elif os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        files = [os.path.join(model_dir, fn) for fn in sorted(set(wm.values()))]
    else:
        raise FileNotFoundError(f"{model_dir}: neither model.safetensors nor model.safetensors.index.json")
    tensors = {}
    for fn in files:
        tensors.update(read_safetensors(fn))
    return tensors


# --------------------------------------------------------------------------------------
# Model description: a plain dict of fp32 torch tensors + hyper-parameters
# --------------------------------------------------------------------------------------

class Model:
    """family: 'llama' (covers mistral / qwen2 via biases) or 'opt'.
    rope: 'half' (HF rotate_half) or 'interleaved' (llama2.c)."""

    def __init__(self):
        self.family = "llama"
        self.rope = "half"
        self.layers = []   # list of dicts of tensors
        self.g = {}        # global tensors: embed, norm_w, norm_b, lm_head, pos
        self.bos_id = None
        self.add_bos = None  # decided by the tokenizer
        self.tokenizer_dir = None


def _t(a):
    return torch.from_numpy(np.array(a, dtype=np.float32, copy=True))


def load_hf(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    raw = load_hf_tensors(model_dir)
    # Some checkpoints (old OPT) store names without the "model." prefix.
    def get(name, required=True):
        for cand in (name, name[len("model."):] if name.startswith("model.") else None):
            if cand is not None and cand in raw:
                return _t(raw[cand])
        if required:
            raise KeyError(f"{model_dir}: missing tensor {name}")
        return None

    m = Model()
    m.cfg = cfg
    m.tokenizer_dir = model_dir
    mt = cfg.get("model_type", "llama")
    m.bos_id = cfg.get("bos_token_id")
    m.vocab_size = cfg["vocab_size"]
    if mt in ("llama", "mistral", "qwen2"):
        m.family, m.rope = "llama", "half"
        m.dim = cfg["hidden_size"]
        m.n_layers = cfg["num_hidden_layers"]
        m.n_heads = cfg["num_attention_heads"]
        m.n_kv_heads = cfg.get("num_key_value_heads") or m.n_heads
        m.head_dim = cfg.get("head_dim") or m.dim // m.n_heads
        m.eps = float(cfg.get("rms_norm_eps", 1e-6))
        m.theta = float(cfg.get("rope_theta", 10000.0))
        if cfg.get("rope_scaling"):
            raise ValueError(f"{model_dir}: rope_scaling {cfg['rope_scaling']} not supported by the reference")
        m.max_seq = cfg.get("max_position_embeddings", 2048)
        # Mistral-style sliding-window attention only matters past the window: refuse longer
        # windows rather than compute them wrong.
        sw = cfg.get("sliding_window")
        if sw and cfg.get("use_sliding_window", mt == "mistral"):
            m.max_seq = min(m.max_seq, int(sw))
        tied = cfg.get("tie_word_embeddings", mt != "llama" and mt != "mistral")
        if "tie_word_embeddings" not in cfg:
            tied = mt == "qwen2" and "lm_head.weight" not in raw
        m.g["embed"] = get("model.embed_tokens.weight")
        m.g["norm_w"] = get("model.norm.weight")
        lm = None if tied else get("lm_head.weight", required=False)
        m.g["lm_head"] = lm if lm is not None else m.g["embed"]
        for i in range(m.n_layers):
            p = f"model.layers.{i}."
            L = {
                "attn_norm": get(p + "input_layernorm.weight"),
                "wq": get(p + "self_attn.q_proj.weight"),
                "wk": get(p + "self_attn.k_proj.weight"),
                "wv": get(p + "self_attn.v_proj.weight"),
                "wo": get(p + "self_attn.o_proj.weight"),
                "bq": get(p + "self_attn.q_proj.bias", required=(mt == "qwen2")),
                "bk": get(p + "self_attn.k_proj.bias", required=(mt == "qwen2")),
                "bv": get(p + "self_attn.v_proj.bias", required=(mt == "qwen2")),
                "bo": get(p + "self_attn.o_proj.bias", required=False),
                "mlp_norm": get(p + "post_attention_layernorm.weight"),
                "w_gate": get(p + "mlp.gate_proj.weight"),
                "w_up": get(p + "mlp.up_proj.weight"),
                "w_down": get(p + "mlp.down_proj.weight"),
            }
            m.layers.append(L)
    elif mt == "opt":
        m.family, m.rope = "opt", None
        m.dim = cfg["hidden_size"]
        m.n_layers = cfg["num_hidden_layers"]
        m.n_heads = cfg["num_attention_heads"]
        m.n_kv_heads = m.n_heads
        m.head_dim = m.dim // m.n_heads
        m.eps = 1e-5
        m.max_seq = cfg.get("max_position_embeddings", 2048)
        m.pre_ln = bool(cfg.get("do_layer_norm_before", True))
        if cfg.get("activation_function", "relu") != "relu":
            raise ValueError(f"{model_dir}: activation {cfg.get('activation_function')} not supported")
        d = "model.decoder."
        m.g["embed"] = get(d + "embed_tokens.weight")
        m.g["pos"] = get(d + "embed_positions.weight")
        m.g["project_in"] = get(d + "project_in.weight", required=False)
        m.g["project_out"] = get(d + "project_out.weight", required=False)
        has_final = m.pre_ln and not cfg.get("_remove_final_layer_norm", False)
        m.g["norm_w"] = get(d + "final_layer_norm.weight", required=has_final) if has_final else None
        m.g["norm_b"] = get(d + "final_layer_norm.bias", required=has_final) if has_final else None
        m.g["lm_head"] = m.g["embed"]   # OPT ties lm_head to embed_tokens
        for i in range(m.n_layers):
            p = f"{d}layers.{i}."
            L = {}
            for k, n in (("wq", "q_proj"), ("wk", "k_proj"), ("wv", "v_proj"), ("wo", "out_proj")):
                L[k] = get(p + f"self_attn.{n}.weight")
                L["b" + k[1]] = get(p + f"self_attn.{n}.bias")
            L["attn_ln_w"] = get(p + "self_attn_layer_norm.weight")
            L["attn_ln_b"] = get(p + "self_attn_layer_norm.bias")
            L["fc1_w"], L["fc1_b"] = get(p + "fc1.weight"), get(p + "fc1.bias")
            L["fc2_w"], L["fc2_b"] = get(p + "fc2.weight"), get(p + "fc2.bias")
            L["mlp_ln_w"] = get(p + "final_layer_norm.weight")
            L["mlp_ln_b"] = get(p + "final_layer_norm.bias")
            m.layers.append(L)
    else:
        raise ValueError(f"{model_dir}: model_type {mt!r} not supported by the reference")
    return m


def load_llama2c(path):
    with open(path, "rb") as f:
        buf = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", buf[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(buf, dtype="<f4", offset=28)
    hs = dim // n_heads
    kvd = n_kv * hs
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        if off + n > w.size:
            raise ValueError(f"{path}: truncated (need {off + n} floats, have {w.size})")
        a = w[off:off + n].reshape(shape)
        off += n
        return _t(a)

    m = Model()
    m.family, m.rope = "llama", "interleaved"
    m.dim, m.n_layers, m.n_heads, m.n_kv_heads = dim, n_layers, n_heads, n_kv
    m.head_dim, m.vocab_size, m.max_seq = hs, vocab, seq_len
    m.eps, m.theta = 1e-5, 10000.0
    m.bos_id, m.add_bos = 1, True
    tok = take(vocab, dim)
    rms_att = take(n_layers, dim)
    wq = take(n_layers, dim, dim)
    wk = take(n_layers, kvd, dim)
    wv = take(n_layers, kvd, dim)
    wo = take(n_layers, dim, dim)
    rms_ffn = take(n_layers, dim)
    w1 = take(n_layers, hidden, dim)
    w2 = take(n_layers, dim, hidden)
    w3 = take(n_layers, hidden, dim)
    rms_final = take(dim)
    take(seq_len, hs // 2)   # freq_cis_real (unused: recomputed)
    take(seq_len, hs // 2)   # freq_cis_imag
    wcls = tok if shared else take(vocab, dim)
    if off != w.size:
        raise ValueError(f"{path}: {w.size - off} trailing floats")
    m.g = {"embed": tok, "norm_w": rms_final, "lm_head": wcls}
    for i in range(n_layers):
        m.layers.append({"attn_norm": rms_att[i], "wq": wq[i], "wk": wk[i], "wv": wv[i],
                         "wo": wo[i], "bq": None, "bk": None, "bv": None, "bo": None,
                         "mlp_norm": rms_ffn[i], "w_gate": w1[i], "w_up": w3[i], "w_down": w2[i]})
    return m


def load_model(path):
    if os.path.isdir(path):
        return load_hf(path)
    return load_llama2c(path)


# --------------------------------------------------------------------------------------
# Forward pass: ids [T] -> logits [T, V] (fp32)
# --------------------------------------------------------------------------------------

def rms_norm(x, w, eps):
    # HF LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * w  (llama2.c: the same with eps 1e-5)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_half(x, pos, theta):
    """HF rotate_half rotary. x: (heads, T, D)."""
    D = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    ang = pos.to(torch.float32)[:, None] * inv[None, :]          # (T, D/2)
    emb = torch.cat([ang, ang], dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    rot = torch.cat([-x2, x1], dim=-1)
    return x * cos + rot * sin


def rope_interleaved(x, pos, theta):
    """llama2.c rotary on pairs (2i, 2i+1): freq = theta^(-2i/D)."""
    D = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    ang = pos.to(torch.float32)[:, None] * inv[None, :]          # (T, D/2)
    cos, sin = ang.cos(), ang.sin()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def linear(x, w, b=None):
    y = x @ w.t()
    return y + b if b is not None else y


def attention(q, k, v, n_heads, n_kv, scale):
    """q: (H, T, D), k/v: (G, T, D); causal softmax attention; returns (T, H*D)."""
    T = q.shape[1]
    rep = n_heads // n_kv
    if rep > 1:   # head h uses kv head h // rep (HF repeat_kv, llama2.c h / kv_mul)
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
    s = (q @ k.transpose(1, 2)) * scale                            # (H, T, T)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, dim=-1)
    o = p @ v                                                      # (H, T, D)
    return o.transpose(0, 1).reshape(T, -1)


def forward_llama(m, ids, trace=None):
    T = len(ids)
    H, G, D = m.n_heads, m.n_kv_heads, m.head_dim
    pos = torch.arange(T)
    rope = rope_half if m.rope == "half" else rope_interleaved
    x = m.g["embed"][torch.as_tensor(ids, dtype=torch.long)]       # (T, C)
    tr = trace if trace is not None else {}
    tr["embed"] = x
    for i, L in enumerate(m.layers):
        h = rms_norm(x, L["attn_norm"], m.eps)
        q = linear(h, L["wq"], L["bq"]).view(T, H, D).transpose(0, 1)
        k = linear(h, L["wk"], L["bk"]).view(T, G, D).transpose(0, 1)
        v = linear(h, L["wv"], L["bv"]).view(T, G, D).transpose(0, 1)
        q, k = rope(q, pos, m.theta), rope(k, pos, m.theta)
        a = attention(q, k, v, H, G, 1.0 / math.sqrt(D))
        x = x + linear(a, L["wo"], L["bo"])
        tr[f"layers.{i}.attn_residual"] = x
        h = rms_norm(x, L["mlp_norm"], m.eps)
        g = linear(h, L["w_gate"])
        x = x + linear(torch.nn.functional.silu(g) * linear(h, L["w_up"]), L["w_down"])
        tr[f"layers.{i}.out"] = x
    x = rms_norm(x, m.g["norm_w"], m.eps)
    tr["final_norm"] = x
    return x @ m.g["lm_head"].t()


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def forward_opt(m, ids, trace=None):
    T = len(ids)
    H, D = m.n_heads, m.head_dim
    idx = torch.as_tensor(ids, dtype=torch.long)
    x = m.g["embed"][idx]
    if m.g.get("project_in") is not None:
        x = x @ m.g["project_in"].t()
    x = x + m.g["pos"][torch.arange(T) + 2]     # OPTLearnedPositionalEmbedding offset 2
    tr = trace if trace is not None else {}
    tr["embed"] = x
    for i, L in enumerate(m.layers):
        r = x
        h = layer_norm(x, L["attn_ln_w"], L["attn_ln_b"], m.eps) if m.pre_ln else x
        q = (linear(h, L["wq"], L["bq"]) * (D ** -0.5)).view(T, H, D).transpose(0, 1)
        k = linear(h, L["wk"], L["bk"]).view(T, H, D).transpose(0, 1)
        v = linear(h, L["wv"], L["bv"]).view(T, H, D).transpose(0, 1)
        a = attention(q, k, v, H, H, 1.0)
        x = r + linear(a, L["wo"], L["bo"])
        if not m.pre_ln:
            x = layer_norm(x, L["attn_ln_w"], L["attn_ln_b"], m.eps)
        tr[f"layers.{i}.attn_residual"] = x
        r = x
        h = layer_norm(x, L["mlp_ln_w"], L["mlp_ln_b"], m.eps) if m.pre_ln else x
        h = torch.relu(linear(h, L["fc1_w"], L["fc1_b"]))
        x = r + linear(h, L["fc2_w"], L["fc2_b"])
        if not m.pre_ln:
            x = layer_norm(x, L["mlp_ln_w"], L["mlp_ln_b"], m.eps)
        tr[f"layers.{i}.out"] = x
    if m.g.get("norm_w") is not None:
        x = layer_norm(x, m.g["norm_w"], m.g["norm_b"], m.eps)
    tr["final_norm"] = x
    if m.g.get("project_out") is not None:
        x = x @ m.g["project_out"].t()
    return x @ m.g["lm_head"].t()


def forward(m, ids, trace=None):
    """trace: optional dict filled with the (T, C) residual stream: "embed",
    "layers.{i}.attn_residual" (after the attention add), "layers.{i}.out", "final_norm"."""
    if len(ids) > m.max_seq:
        raise ValueError(f"window of {len(ids)} tokens exceeds the model's maximum {m.max_seq}")
    if max(ids) >= m.g["embed"].shape[0] or min(ids) < 0:
        raise ValueError("token id out of the embedding's range")
    return forward_opt(m, ids, trace) if m.family == "opt" else forward_llama(m, ids, trace)


def token_nll(logits, targets):
    """Per-position NLL (float64 numpy) of targets under logits (T, V)."""
    lp = torch.log_softmax(logits.to(torch.float32), dim=-1)
    t = torch.as_tensor(targets, dtype=torch.long)
    return (-lp[torch.arange(len(targets)), t]).double().numpy()


# --------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------

class Llama2cTokenizer:
    """karpathy llama2.c tokenizer.bin + run.c `encode` (BOS, dummy prefix, codepoint lookup
    with byte fallback id = byte + 3, greedy highest-score pair merges, ties to the left)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            buf = f.read()
        (self.max_token_length,) = struct.unpack("<i", buf[:4])
        off, self.pieces, self.scores = 4, [], []
        while off < len(buf):
            score, n = struct.unpack("<fi", buf[off:off + 8])
            off += 8
            self.pieces.append(buf[off:off + n])
            self.scores.append(score)
            off += n
        # run.c looks pieces up with bsearch over the sorted vocab; for a duplicated piece the
        # match it lands on is not defined, so duplicates are reported rather than guessed.
        self.lookup = {}
        self.dups = []
        for i, p in enumerate(self.pieces):
            if p in self.lookup:
                self.dups.append(p)
                continue
            self.lookup[p] = i

    def encode_runc(self, text, bos=True):
        """run.c encode: the dummy prefix takes part in merges (it is in the token buffer)."""
        data = text.encode("utf-8")
        toks = []
        if len(data) > 0:
            toks.append(self.lookup.get(b" ", -1))
        i, n = 0, len(data)
        while i < n:
            j = i + 1
            while j < n and (data[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            cp = data[i:j]
            if cp in self.lookup:
                toks.append(self.lookup[cp])
            else:
                toks.extend(b + 3 for b in cp)
            i = j
        toks = self._heap_merge(toks)
        return ([1] if bos else []) + toks

    def _heap_merge(self, toks):
        n = len(toks)
        if n < 2:
            return toks
        tok = list(toks)
        nxt = list(range(1, n)) + [-1]
        prv = [-1] + list(range(n - 1))
        alive = [True] * n
        ver = [0] * n
        heap = []

        def push(i):
            j = nxt[i]
            if j < 0:
                return
            cid = self.lookup.get(self.pieces[tok[i]] + self.pieces[tok[j]])
            if cid is not None:
                heapq.heappush(heap, (-self.scores[cid], i, ver[i], ver[j], j, cid))

        for i in range(n - 1):
            push(i)
        while heap:
            _, i, vi, vj, j, cid = heapq.heappop(heap)
            if not alive[i] or not alive[j] or ver[i] != vi or ver[j] != vj or nxt[i] != j:
                continue
            tok[i] = cid
            ver[i] += 1
            alive[j] = False
            nxt[i] = nxt[j]
            if nxt[j] >= 0:
                prv[nxt[j]] = i
            if prv[i] >= 0:   # (prv, i) entries in the heap are stale: ver[i] changed
                push(prv[i])
            push(i)
        out, i = [], 0
        while i >= 0:
            out.append(tok[i])
            i = nxt[i]
        return out

    def encode_runc_naive(self, text, bos=True):
        """Literal port of run.c's O(n^2) loop, for testing _heap_merge on short texts."""
        data = text.encode("utf-8")
        toks = []
        if len(data) > 0:
            toks.append(self.lookup.get(b" ", -1))
        i, n = 0, len(data)
        while i < n:
            j = i + 1
            while j < n and (data[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            cp = data[i:j]
            toks.extend([self.lookup[cp]] if cp in self.lookup else [b + 3 for b in cp])
            i = j
        while True:
            best, bid, bidx = -1e10, -1, -1
            for k in range(len(toks) - 1):
                cid = self.lookup.get(self.pieces[toks[k]] + self.pieces[toks[k + 1]])
                if cid is not None and self.scores[cid] > best:
                    best, bid, bidx = self.scores[cid], cid, k
            if bidx == -1:
                break
            toks[bidx:bidx + 2] = [bid]
        return ([1] if bos else []) + toks


def hf_tokenize(tok_dir, text_file=None, string=None, model_type=None):
    """Token ids from the HF Rust tokenizers library (tools/tokref.js)."""
    cmd = ["node", os.path.join(HERE, "tokref.js"), "--tokenizer", tok_dir]
    if text_file is not None:
        cmd += ["--text", text_file]
    else:
        cmd += ["--string", string]
    if (model_type == "opt" and os.path.isdir(tok_dir)
            and not os.path.exists(os.path.join(tok_dir, "tokenizer.json"))):
        cmd += ["--bos", "2"]   # GPT2TokenizerFast for OPT adds </s> (2) as BOS
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return [int(s) for s in r.stdout.split()]


# --------------------------------------------------------------------------------------
# Perplexity protocols
# --------------------------------------------------------------------------------------

def ppl_gptq(m, ids, seqlen, max_windows=None, logits_cb=None):
    W = len(ids) // seqlen
    if max_windows is not None:
        W = min(W, max_windows)
    if W < 1:
        raise ValueError(f"{len(ids)} tokens: not one window of {seqlen}")
    nlls = []
    for w in range(W):
        win = ids[w * seqlen:(w + 1) * seqlen]
        logits = forward(m, win)
        if logits_cb is not None and w == 0:
            logits_cb(logits)
        nlls.append(float(token_nll(logits[:-1], win[1:]).mean()))
    mean = float(np.mean(np.asarray(nlls, dtype=np.float64)))
    return {"ppl": math.exp(mean), "tokens": len(ids), "windows": W, "seqlen": seqlen,
            "nll_per_window": nlls, "nll_mean": mean}


def ppl_llamacpp(m, ids, seqlen, bos_id, max_windows=None, logits_cb=None):
    n_ctx = seqlen
    W = len(ids) // n_ctx
    if max_windows is not None:
        W = min(W, max_windows)
    if W < 1:
        raise ValueError(f"{len(ids)} tokens: not one chunk of {n_ctx}")
    first = n_ctx // 2
    all_nll, per_chunk = [], []
    for w in range(W):
        chunk = list(ids[w * n_ctx:(w + 1) * n_ctx])
        if bos_id is not None:
            chunk[0] = bos_id
        logits = forward(m, chunk)
        if logits_cb is not None and w == 0:
            logits_cb(logits)
        nll = token_nll(logits[first:n_ctx - 1], chunk[first + 1:n_ctx])
        all_nll.append(nll)
        per_chunk.append(float(nll.mean()))
    a = np.concatenate(all_nll).astype(np.float64)
    N = a.size
    mean = float(a.mean())
    var = float((a * a).mean() - mean * mean)
    stderr = math.sqrt(var / (N - 1)) if (N > 1 and var > 0) else 0.0
    ppl = math.exp(mean)
    return {"ppl": ppl, "tokens": len(ids), "windows": W, "seqlen": seqlen, "scored": N,
            "nll_mean": mean, "nll_stderr": stderr, "ppl_stderr": ppl * stderr,
            "nll_per_window": per_chunk}


# --------------------------------------------------------------------------------------
# Glue
# --------------------------------------------------------------------------------------

def get_ids(m, model_path, text_file=None, ids_file=None, tokenizer=None):
    """Returns (ids, bos_id_or_None): bos_id is the BOS the tokenizer adds (None if none)."""
    if ids_file is not None:
        with open(ids_file) as f:
            ids = [int(s) for s in f.read().split()]
        bos = m.bos_id if (ids and m.bos_id is not None and ids[0] == m.bos_id) else None
        return ids, bos
    if text_file is None:
        raise ValueError("need --ids or --text")
    is_bin_tok = tokenizer is not None and os.path.isfile(tokenizer)
    if not os.path.isdir(model_path) or is_bin_tok:
        if tokenizer is None:
            raise ValueError("a llama2.c model needs --tokenizer-bin")
        t = Llama2cTokenizer(tokenizer)
        with open(text_file, encoding="utf-8") as f:
            text = f.read()
        return t.encode_runc(text, bos=True), 1
    tok_dir = tokenizer or model_path
    mt = m.cfg.get("model_type")
    ids = hf_tokenize(tok_dir, text_file=text_file, model_type=mt)
    empty = hf_tokenize(tok_dir, string="", model_type=mt)
    bos = empty[0] if len(empty) == 1 else None
    return ids, bos


def ids_sha256(ids):
    import hashlib
    return hashlib.sha256(np.asarray(ids, dtype="<i4").tobytes()).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer-bin", help="llama2.c tokenizer.bin")
    ap.add_argument("--tokenizer", help="HF tokenizer dir/file (default: the model dir) or a tokenizer.bin")
    ap.add_argument("--ids")
    ap.add_argument("--text")
    ap.add_argument("--seqlen", type=int, required=True)
    ap.add_argument("--protocol", choices=["gptq", "llamacpp"], default="gptq")
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--logits-out", help="safetensors file: 'logits' [P, V] of window 0")
    ap.add_argument("--logits-positions", type=int, default=8)
    ap.add_argument("--ids-out", help="write the token ids, one a line")
    ap.add_argument("--trace-out", help="safetensors file: the residual stream of window 0 after "
                    "the embedding, each attention add, each block and the final norm, plus its "
                    "logits (debugging a forward pass layer by layer)")
    ap.add_argument("--per-window", action="store_true", help="print nll per window")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    m = load_model(a.model)
    tok = a.tokenizer_bin or a.tokenizer
    ids, bos = get_ids(m, a.model, text_file=a.text, ids_file=a.ids, tokenizer=tok)
    if a.ids_out:
        with open(a.ids_out, "w") as f:
            f.write("".join(f"{i}\n" for i in ids))
    cb = None
    if a.logits_out:
        P = a.logits_positions
        cb = lambda lg: write_safetensors(a.logits_out, {"logits": lg[:P].numpy()})
    if a.trace_out:
        T = min(a.seqlen, len(ids))
        win = list(ids[:T])
        if a.protocol == "llamacpp" and bos is not None:
            win[0] = bos
        tr = {}
        lg = forward(m, win, tr)
        tr["logits"] = lg
        write_safetensors(a.trace_out, {k: v.numpy() for k, v in tr.items()})
    if a.protocol == "gptq":
        r = ppl_gptq(m, ids, a.seqlen, a.max_windows, cb)
    else:
        r = ppl_llamacpp(m, ids, a.seqlen, bos, a.max_windows, cb)
    if a.per_window:
        for w, v in enumerate(r["nll_per_window"]):
            print(f"window={w} nll={v:.9f}")
    line = f"ppl={r['ppl']:.9g} tokens={r['tokens']} windows={r['windows']} seqlen={r['seqlen']}"
    if a.protocol == "llamacpp":
        line += f" scored={r['scored']} nll_stderr={r['nll_stderr']:.9g} ppl_stderr={r['ppl_stderr']:.9g}"
    line += f" ids_sha256={ids_sha256(ids)}"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
