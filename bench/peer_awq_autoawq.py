"""bench/peer_awq_autoawq.py — AutoAWQ 0.2.9's AWQ pass (AutoAWQForCausalLM.quantize, PyPI
autoawq, pinned in tools/peers/requirements-autoawq.txt) on the CPU, on the token ids the harness
calibrates with, for bench/peers.sh. Prints the alpha (AutoAWQ's "ratio") it chose for every
scaling group as `alpha LAYER GROUP VALUE` lines and a last key=value line with the seconds of
the quantize call (seconds=) and of its scale searches alone (search_seconds=).

Run with the AutoAWQ venv's Python (tools/peers/venv autoawq):
  python bench/peer_awq_autoawq.py --model HF_DIR --ids IDS.txt --samples N --seqlen L \
      --group 64 --threads 2 [--duo-scaling] [--as-shipped]

GPU semantics (a runtime patch, on unless --as-shipped): AutoAWQ's _compute_best_scale
snapshots the module with `{k: v.cpu() for k, v in module.state_dict().items()}` and restores
it after each grid point. On a GPU `.cpu()` copies; on the CPU it returns the same tensor, so
the snapshot aliases the weights: the first grid point's in-place `weight.mul_(scales)` is
kept in the "original" and every later grid point starts from scaled weights. With
duo_scaling the first scales are not 1, so every later loss is inflated, alpha 0 wins in every
group, and the module is "restored" to the first grid point's scaled weights before AutoAWQ
applies the chosen scales. The patch makes `.cpu()` of a CPU tensor a clone while
_compute_best_scale runs (a wrapper, none of AutoAWQ's code copied), which is what the GPU does.
With duo_scaling off the first grid point's scales are exactly 1 (x_mean^0), the aliasing
changes nothing, and the patch leaves every alpha as it was.

Settings held equal to the harness's `quantize --method awq --grid 20 --clip off` (its
default `--scale-rule search`, or `--scale-rule duo` with --duo-scaling):
  - grid: AutoAWQ's n_grid is fixed at 20 in _compute_best_scale, ratio = i/20, i = 0..19
    (1.0 excluded, as the harness's --grid 20 without --grid-include-one);
  - scales: duo_scaling=False gives s = x_mean^alpha, clamp 1e-4, s /= sqrt(max(s) min(s)),
    the harness's `search` rule (duo_scaling=True: its `duo` rule);
  - loss: mean squared error of the output of the module each group feeds (self_attn for q/k/v,
    the MLP for gate/up, o_proj and down_proj alone), first grid point of least loss wins;
  - asymmetric (zero_point) 4-bit min-max groups of --group, apply_clip=False;
  - the same calibration blocks: the ids file holds N blocks of L tokens, handed to AutoAWQ as
    token lists with max_calib_seq_len=L, which it concatenates and cuts back into the same
    N blocks, in order;
  - every group's search sees the block's FP weights and FP inputs (AutoAWQ searches all groups
    of a block before applying any scale, and feeds the next block the FP block's output);
  - fp32 weights and activations (the model is loaded as float32).
What differs, by design of the peer: its v_proj -> o_proj group exists only when v and o have
the same shape (not with GQA: SmolLM2 has 3 groups per block), as in the harness; it computes
its scales and sums its squared errors in fp32 where the harness uses double (and, for the o_proj
and down_proj groups, the Gram matrix of their inputs), so a near-tie may choose differently
(the count of equal alphas is printed by bench/peers.sh); and its pass goes on to quantize the
weights for real (fp16 min-max, packed into WQLinear_GEMM int32 words in Python loops), work the
harness's quant_seconds does not include in that form (it fake-quantizes in fp32).
"""
import json
import os
import sys
import time

import torch

from peer_awq_common import GROUP_OF_PREV_OP, check_args, common_args, print_alphas, read_blocks

N_GRID = 20   # fixed inside AutoAWQ's _compute_best_scale


def check_group(config_path, group):
    """AutoAWQ asserts that every linear's input width is a multiple of the group (the harness
    would quantize a shorter last group): say so before loading anything."""
    try:
        cfg = json.load(open(config_path))
        widths = {"hidden_size": cfg["hidden_size"], "intermediate_size": cfg["intermediate_size"]}
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"{config_path}: {e}")
    for name, width in widths.items():
        if width % group:
            sys.exit(f"--group {group} does not divide {name} {width}: AutoAWQ needs whole groups")


def patch_gpu_semantics(quantizer_cls):
    """Make the weight snapshot of _compute_best_scale a copy on the CPU, as on a GPU."""
    orig_best = quantizer_cls._compute_best_scale
    orig_cpu = torch.Tensor.cpu

    def cpu_copy(self, *args, **kw):
        return self.clone() if self.device.type == "cpu" else orig_cpu(self, *args, **kw)

    def best_scale_snapshot_copied(self, *args, **kw):
        torch.Tensor.cpu = cpu_copy
        try:
            return orig_best(self, *args, **kw)
        finally:
            torch.Tensor.cpu = orig_cpu

    quantizer_cls._compute_best_scale = best_scale_snapshot_copied


def record_alphas(quantizer_cls, chosen, timing):
    """Record each group's chosen ratio from AutoAWQ's own loss calls (it keeps the first grid
    point of least loss: `if loss < best_error`), and the time its searches take."""
    losses = []
    orig_loss = quantizer_cls._compute_loss
    orig_search = quantizer_cls._search_best_scale

    def rec_loss(self, *args, **kw):
        v = orig_loss(self, *args, **kw)
        losses.append(v)
        return v

    def rec_search(self, module, prev_op, layers, *args, **kw):
        losses.clear()
        t0 = time.time()
        out = orig_search(self, module, prev_op, layers, *args, **kw)
        timing[0] += time.time() - t0
        if len(losses) != N_GRID:
            sys.exit(f"AutoAWQ computed {len(losses)} losses in one search, expected {N_GRID}")
        layer = next(i for i, m in enumerate(self.modules) if m is module)
        best = min(range(N_GRID), key=lambda i: (losses[i], i))
        chosen.append((layer, GROUP_OF_PREV_OP.get(out[0], out[0]), best / N_GRID))
        return out

    quantizer_cls._compute_loss = rec_loss
    quantizer_cls._search_best_scale = rec_search


def main():
    ap = common_args("AutoAWQ's AWQ pass on the harness's calibration ids (bench/peers.sh)")
    ap.add_argument("--duo-scaling", action="store_true",
                    help="AutoAWQ's default rule (the harness's --scale-rule duo)")
    ap.add_argument("--as-shipped", action="store_true",
                    help="no GPU-semantics patch: the aliased CPU snapshot as AutoAWQ ships it")
    a = ap.parse_args()
    check_args(a)
    check_group(os.path.join(a.model, "config.json"), a.group)
    torch.set_num_threads(a.threads)
    blocks = read_blocks(a.ids, a.samples, a.seqlen)

    from awq import AutoAWQForCausalLM
    from awq.quantize.quantizer import AwqQuantizer

    chosen, timing = [], [0.0]
    if not a.as_shipped:
        patch_gpu_semantics(AwqQuantizer)
    record_alphas(AwqQuantizer, chosen, timing)

    model = AutoAWQForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, device_map=None)
    quant_config = {"zero_point": True, "q_group_size": a.group, "w_bit": 4, "version": "GEMM"}
    t0 = time.time()
    model.quantize(None, quant_config=quant_config, calib_data=blocks,
                   duo_scaling=a.duo_scaling, apply_clip=False,
                   max_calib_samples=a.samples, max_calib_seq_len=a.seqlen)
    seconds = time.time() - t0
    print_alphas(chosen)
    print(f"seconds={seconds:.3f} search_seconds={timing[0]:.3f} groups={len(chosen)} "
          f"gpu_semantics={0 if a.as_shipped else 1} duo_scaling={int(a.duo_scaling)}")


if __name__ == "__main__":
    main()
