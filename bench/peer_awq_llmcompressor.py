"""bench/peer_awq_llmcompressor.py — llm-compressor's AWQ (AWQModifier + oneshot, PyPI
llmcompressor, pinned in tools/peers/requirements.txt) on the CPU, on the token ids the harness
calibrates with, for bench/peers.sh. Prints the alpha (llm-compressor's "ratio") it chose for
every scaling group as `alpha LAYER GROUP VALUE` lines and a last key=value line with the
seconds of the oneshot call.

Run with the peers' Python (tools/peers/venv):
  python bench/peer_awq_llmcompressor.py --model HF_DIR --ids IDS.txt --samples N --seqlen L \
      --group 128 --grid 20 --threads 2

Settings held equal to the harness's `--method awq --grid 20 --grid-include-one --clip off`:
duo_scaling=False (s = x_mean^alpha), n_grid = grid + 1 (llm-compressor's grid is i/(n-1),
i = 0..n-1, so 0, 1/20, ..., 1: the harness's grid with 1.0 added), asymmetric 4-bit groups
(W4A16_ASYM), no clip search (llm-compressor's AWQ has none), the same calibration blocks
(the ids file holds them, N blocks of L tokens in order, no shuffling). What still differs,
by design of the peers: compressed-tensors' min-max observer widens each group's range to
include 0, so a few near-tie alphas may differ; the count of equal alphas is printed.
"""
import time

import torch

from peer_awq_common import common_args, read_blocks


def main():
    ap = common_args("llm-compressor's AWQ pass on the harness's calibration ids (bench/peers.sh)")
    ap.add_argument("--grid", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # llm-compressor 0.14 pins its cached activations (Tensor.pin_memory) unconditionally, which
    # raises "Found no NVIDIA driver" on a CPU-only machine; pinning only speeds host-to-GPU
    # copies, so on the CPU it is made the identity.
    torch.Tensor.pin_memory = lambda self, *args, **kwargs: self

    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.transform.awq import base as awq_base
    from llmcompressor.modifiers.awq import AWQModifier
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
    from transformers import AutoModelForCausalLM

    rows = read_blocks(a.ids, a.samples, a.seqlen)
    ds = Dataset.from_dict({"input_ids": rows, "attention_mask": [[1] * a.seqlen for _ in rows]})

    # The alpha of each scaling group: the first grid point of least loss, as
    # _compute_best_scale picks it (strict <), recorded from its own loss calls.
    chosen = []
    losses = []
    orig_loss = awq_base.AWQModifier._compute_loss
    orig_best = awq_base.AWQModifier._compute_best_scale

    def rec_loss(self, *args, **kw):
        v = orig_loss(self, *args, **kw)
        losses.append(v)
        return v

    def rec_best(self, mapping, *args, **kw):
        losses.clear()
        out = orig_best(self, mapping, *args, **kw)
        grid = self._get_grid_search_params()
        best = min(range(len(losses)), key=lambda i: (losses[i], i))
        chosen.append((mapping.smooth_name, grid[best][0]))
        return out

    awq_base.AWQModifier._compute_loss = rec_loss
    awq_base.AWQModifier._compute_best_scale = rec_best

    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    scheme = QuantizationScheme(
        targets=["Linear"],
        weights=QuantizationArgs(num_bits=4, type="int", symmetric=False, strategy="group",
                                 group_size=a.group, observer="minmax"))
    recipe = AWQModifier(ignore=["lm_head"], config_groups={"group_0": scheme},
                         duo_scaling=False, n_grid=a.grid + 1)
    t0 = time.time()
    oneshot(model=model, dataset=ds, recipe=recipe, num_calibration_samples=a.samples,
            max_seq_length=a.seqlen, shuffle_calibration_samples=False)
    seconds = time.time() - t0
    names = {"input_layernorm": "qkv", "v_proj": "o", "post_attention_layernorm": "gate_up",
             "up_proj": "down"}
    for smooth, ratio in chosen:
        parts = smooth.split(".")
        layer = parts[parts.index("layers") + 1]
        print(f"alpha {layer} {names.get(parts[-1], parts[-1])} {ratio:.6f}")
    print(f"seconds={seconds:.3f} groups={len(chosen)}")


if __name__ == "__main__":
    main()
