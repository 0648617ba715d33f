"""bench/model_flops.py — model FLOPs per token of a HuggingFace config.json at window T, the
count bench/throughput.sh and bench/peers.sh turn tokens/s into achieved FLOP/s with:

  L * (2 * linear params per layer + 4 * H * D * (T + 1) / 2) + 2 * V * C

linears: 2 flops per weight (multiply and add); causal attention: q k^T and p v, each
2 * H * D flops per (query, key) pair, over the mean context (T + 1) / 2; the LM head: 2 * V * C.
Norms, RoPE, softmax and activations are left out (a few per mille). HEAD_SHARE (default 1)
scales the LM-head term for an evaluation that computes logits for only that share of its
tokens: under llama.cpp's protocol the harness scores positions T/2 .. T-2 of each window, so
(T/2 - 1) / T of them (eval/ppl.c).

  python3 bench/model_flops.py CONFIG.json T [HEAD_SHARE]   -> one number (flops per token)
"""
import json
import sys


def flops_per_token(cfg, T, head_share=1.0):
    C = cfg["hidden_size"]
    L = cfg["num_hidden_layers"]
    V = cfg["vocab_size"]
    H = cfg["num_attention_heads"]
    G = cfg.get("num_key_value_heads", H)   # grouped-query attention: fewer k/v heads
    D = cfg.get("head_dim", C // H)
    if cfg["model_type"] == "opt":
        lin = 4 * C * C + 2 * C * cfg["ffn_dim"]
    else:   # q, k, v, o, then gate, up, down
        lin = C * H * D + 2 * C * G * D + H * D * C + 3 * C * cfg["intermediate_size"]
    att = 2 * 2 * H * D * (T + 1) / 2
    return L * (2 * lin + att) + 2 * V * C * head_share


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: model_flops.py CONFIG.json T [HEAD_SHARE]")
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    share = float(sys.argv[3]) if len(sys.argv) == 4 else 1.0
    print(flops_per_token(cfg, int(sys.argv[2]), share))
