#!/usr/bin/python3
"""synth_ckpt.py — random-weight HF checkpoint at a real model's shapes, for timing only.

  /usr/bin/python3 bench/synth_ckpt.py CONFIG.json OUTDIR [--dtype f16|f32] [--layers N]

Writes OUTDIR/config.json (CONFIG, n layers optionally cut to N) and OUTDIR/model.safetensors
with normal(0, 0.02) linears and embeddings, norms 1 (+ bias 0), biases normal(0, 0.02).
bench/throughput.sh uses it when `./awq-harness synth` is not available. Perplexities of such
a model mean nothing; the FLOPs and memory traffic are those of the real model.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import ref_model  # noqa: E402  (write_safetensors)


def tensors(cfg, rng):
    mt = cfg["model_type"]
    C = cfg["hidden_size"]
    V = cfg["vocab_size"]
    nl = cfg["num_hidden_layers"]
    H = cfg["num_attention_heads"]
    G = cfg.get("num_key_value_heads", H)
    D = C // H
    w = lambda *s: rng.standard_normal(s, dtype=np.float32) * 0.02
    t = {}
    if mt == "opt":
        F = cfg["ffn_dim"]
        p = "model.decoder."
        t[p + "embed_tokens.weight"] = w(V, C)
        t[p + "embed_positions.weight"] = w(cfg["max_position_embeddings"] + 2, C)
        t[p + "final_layer_norm.weight"] = np.ones(C, np.float32)
        t[p + "final_layer_norm.bias"] = np.zeros(C, np.float32)
        for i in range(nl):
            q = f"{p}layers.{i}."
            for n, (o, k) in {"self_attn.q_proj": (C, C), "self_attn.k_proj": (C, C),
                              "self_attn.v_proj": (C, C), "self_attn.out_proj": (C, C),
                              "fc1": (F, C), "fc2": (C, F)}.items():
                t[q + n + ".weight"] = w(o, k)
                t[q + n + ".bias"] = w(o)
            for n in ("self_attn_layer_norm", "final_layer_norm"):
                t[q + n + ".weight"] = np.ones(C, np.float32)
                t[q + n + ".bias"] = np.zeros(C, np.float32)
    else:   # llama layout
        F = cfg["intermediate_size"]
        t["model.embed_tokens.weight"] = w(V, C)
        t["model.norm.weight"] = np.ones(C, np.float32)
        if not cfg.get("tie_word_embeddings", False):
            t["lm_head.weight"] = w(V, C)
        for i in range(nl):
            q = f"model.layers.{i}."
            for n, (o, k) in {"self_attn.q_proj": (H * D, C), "self_attn.k_proj": (G * D, C),
                              "self_attn.v_proj": (G * D, C), "self_attn.o_proj": (C, H * D),
                              "mlp.gate_proj": (F, C), "mlp.up_proj": (F, C),
                              "mlp.down_proj": (C, F)}.items():
                t[q + n + ".weight"] = w(o, k)
            t[q + "input_layernorm.weight"] = np.ones(C, np.float32)
            t[q + "post_attention_layernorm.weight"] = np.ones(C, np.float32)
    return t


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, out = args[0], args[1]
    dtype, layers = "f16", None
    i = 2
    while i < len(args):
        if args[i] == "--dtype":
            dtype = args[i + 1]
        elif args[i] == "--layers":
            layers = int(args[i + 1])
        else:
            print(f"synth_ckpt: unknown option {args[i]}", file=sys.stderr)
            return 2
        i += 2
    with open(src) as f:
        cfg = json.load(f)
    if layers:
        cfg["num_hidden_layers"] = layers
    os.makedirs(out, exist_ok=True)
    t = tensors(cfg, np.random.default_rng(0))
    dt = {"f16": "F16", "f32": "F32"}[dtype]
    ref_model.write_safetensors(os.path.join(out, "model.safetensors"), t, {k: dt for k in t})
    cfg["torch_dtype"] = "float16" if dtype == "f16" else "float32"
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
