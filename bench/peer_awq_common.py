"""bench/peer_awq_common.py — what the AWQ peer drivers (bench/peer_awq_llmcompressor.py,
bench/peer_awq_autoawq.py, bench/peer_awq_llmawq.py) share: their common command-line arguments
and their checks, the calibration blocks read from the harness's token ids, the group names
and the alpha lines they print, so that every peer calibrates on the same N blocks
of L tokens, in order. Imported from the drivers' own directory (bench/), under whichever
venv runs them: the standard library only.
"""
import argparse
import os
import sys

# The harness's name of each scaling group (awq.safetensors `layers.L.G.alpha`) by the name of
# the op the group's scales fold into, as AutoAWQ and llm-awq name it within a block.
GROUP_OF_PREV_OP = {"input_layernorm": "qkv", "self_attn.v_proj": "o",
                    "post_attention_layernorm": "gate_up", "mlp.up_proj": "down"}


def common_args(description):
    """An argument parser with the options every driver takes (the driver adds its own)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", required=True, help="HuggingFace model directory")
    ap.add_argument("--ids", required=True, help="whitespace-separated token ids")
    ap.add_argument("--samples", type=int, required=True, help="calibration blocks N")
    ap.add_argument("--seqlen", type=int, required=True, help="tokens per block L")
    ap.add_argument("--group", type=int, default=128, help="quantization group size")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    return ap


def read_blocks(path, samples, seqlen):
    """The first samples x seqlen ids of the file at path as `samples` lists of seqlen; one
    clear exit message when the file is unreadable, holds a non-integer or too few ids."""
    if samples < 1 or seqlen < 1:
        sys.exit(f"--samples {samples} --seqlen {seqlen}: both must be positive")
    try:
        with open(path) as f:
            ids = [int(t) for t in f.read().split()]
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: {e}")
    need = samples * seqlen
    if len(ids) < need:
        sys.exit(f"{path}: {len(ids)} ids, need {need} ({samples} x {seqlen})")
    return [ids[i * seqlen:(i + 1) * seqlen] for i in range(samples)]


def check_args(a):
    """One clear exit message for a non-positive count or a model path that is not a model
    directory (which the peers would take for a Hugging Face hub name)."""
    if a.samples < 1 or a.seqlen < 1 or a.group < 1 or a.threads < 1:
        sys.exit("--samples, --seqlen, --group and --threads must be positive")
    if not os.path.isfile(os.path.join(a.model, "config.json")):
        sys.exit(f"{a.model}: not a model directory (no config.json)")


def print_alphas(chosen):
    """`alpha LAYER GROUP VALUE` lines, what bench/peers.sh compares with the harness's."""
    for layer, group, ratio in chosen:
        print(f"alpha {layer} {group} {ratio:.6f}")
