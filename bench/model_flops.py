"""bench/model_flops.py — model FLOPs per token of a HuggingFace config.json at window T, the
count bench/throughput.sh and bench/peers.sh turn tokens/s into achieved FLOP/s with:

  L * (2 * linear params per layer + 4 * H * D * (T + 1) / 2) + 2 * V * C

linears: 2 flops per weight (multiply and add); causal attention: q k^T and p v, each
2 * H * D flops per (query, key) pair, over the mean context (T + 1) / 2; the LM head: 2 * V * C.
Norms, RoPE, softmax and activations are left out (a few per mille). HEAD_SHARE (default 1)
scales the LM-head term for an evaluation that computes logits for only that share of its
tokens: under llama.cpp's protocol the harness scores positions T/2 .. T-2 of each window, so
(T/2 - 1) / T of them (eval/ppl.c). LAST_FROM (default 0) is the first row of each window the
last block computes in full (fwd_block_rows, under that protocol T/2 rounded down to 128): its
keys and values still cover all T rows, its queries, o_proj, MLP and attention only rows
LAST_FROM .. T-1 (the attention's pairs (i, j <= i) of those rows). The count is what the
evaluation does, so the achieved FLOP/s does not count work it skipped.

  python3 bench/model_flops.py CONFIG.json T [HEAD_SHARE [LAST_FROM]]   -> flops per token
"""
import json
import sys


def flops_per_token(cfg, T, head_share=1.0, last_from=0):
    C = cfg["hidden_size"]
    L = cfg["num_hidden_layers"]
    V = cfg["vocab_size"]
    H = cfg["num_attention_heads"]
    G = cfg.get("num_key_value_heads", H)   # grouped-query attention: fewer k/v heads
    D = cfg.get("head_dim", C // H)
    if cfg["model_type"] == "opt":
        kv = 2 * C * C
        lin = 4 * C * C + 2 * C * cfg["ffn_dim"]
    else:   # q, k, v, o, then gate, up, down
        kv = 2 * C * G * D
        lin = C * H * D + kv + H * D * C + 3 * C * cfg["intermediate_size"]
    att = 2 * 2 * H * D * (T + 1) / 2
    block = 2 * lin + att
    # the last block: k, v of every row; the rest of rows last_from .. T-1, per token of the window
    r0 = last_from
    last = (2 * kv * T + 2 * (lin - kv) * (T - r0) + 2 * 2 * H * D * (T * (T + 1) - r0 * (r0 + 1)) / 2) / T
    return (L - 1) * block + last + 2 * V * C * head_share


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4, 5):
        sys.exit("usage: model_flops.py CONFIG.json T [HEAD_SHARE [LAST_FROM]]")
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    share = float(sys.argv[3]) if len(sys.argv) >= 4 else 1.0
    last_from = int(sys.argv[4]) if len(sys.argv) == 5 else 0
    print(flops_per_token(cfg, int(sys.argv[2]), share, last_from))
