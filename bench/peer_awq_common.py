"""bench/peer_awq_common.py — what the AWQ peer drivers (bench/peer_awq_llmcompressor.py,
bench/peer_awq_autoawq.py) share: their common command-line arguments and the calibration
blocks read from the harness's token ids, so that every peer calibrates on the same N blocks
of L tokens, in order. Imported from the drivers' own directory (bench/), under whichever
venv runs them: the standard library only.
"""
import argparse
import sys


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
