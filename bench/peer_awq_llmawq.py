"""bench/peer_awq_llmawq.py — mit-han-lab/llm-awq's own AWQ search (awq/quantize/pre_quant.py
`run_awq`, which calls auto_scale.py's `auto_scale_block` for every block) on the CPU, on the
token ids the harness calibrates with, for bench/peers.sh. Prints the alpha (llm-awq's "ratio")
it chose for every scaling group as `alpha LAYER GROUP VALUE` lines and a last key=value line
with the seconds of the run_awq call (seconds=) and of its scale searches alone
(search_seconds=).

llm-awq is on no package registry (no PyPI, npm or Debian package): --src names a copy of its
source, github.com/mit-han-lab/llm-awq at commit d6e797a42b9ef7778de8ee2352116e0f48a78d61
(2025-07-17, the commit bench/README.md's rows were measured with), e.g.
  git clone https://github.com/mit-han-lab/llm-awq SRC && git -C SRC checkout d6e797a
Nothing of it is copied into this repository; this driver imports it from SRC and patches
only the CUDA calls around it (below). It runs under the AutoAWQ venv's Python
(tools/peers/venv autoawq: torch 2.14.0, transformers 4.51.3; llm-awq pins torch 2.3.0 and
transformers 4.46.0, whose Llama modules take the same calls):
  python bench/peer_awq_llmawq.py --src SRC --model HF_DIR --ids IDS.txt --samples N \
      --seqlen L --group 64 --threads 2

On the CPU (runtime patches, none of llm-awq's code copied):
  - run_awq moves each block and the embeddings to the GPU (`.cuda()`, `move_embed`) and
    empties the CUDA cache: all no-ops;
  - qmodule.py and w8a8_linear.py import llm-awq's CUDA extension (awq_inference_engine) at the
    top; the search calls none of it, so an empty module stands in;
  - the calibration loader (utils/calib_data.py, pileval from the hub) is replaced by the
    harness's blocks: N blocks of L ids, as the [1, L] tensors it returns;
  - GPU semantics: `_search_module_scale` snapshots the block with `{k: v.cpu() ...}` and
    restores it after each grid point; on the CPU `.cpu()` returns the same tensor, so the
    snapshot aliases the weights. While auto_scale_block runs, `.cpu()` of a CPU tensor clones
    (what a GPU does). (With llm-awq's rule the first grid point's scales are exactly 1, so the
    aliasing changes no alpha either way.)
  - `llava`-only code paths are never reached; the model loads with use_cache off, as llm-awq's
    own entry.py loads it (a cache would grow with every module pass of the search).

Settings held equal to the harness's `quantize --method awq --grid 20 --clip off` (its default
`--scale-rule search`): llm-awq's grid is fixed at ratio = i/20, i = 0..19; its scales are
x_mean^ratio (mean |x| per input channel), clamp 1e-4, s /= sqrt(max(s) min(s)); the loss is the
mean squared error of the output of the module each group feeds (self_attn for q/k/v, the MLP
for gate/up, o_proj and down_proj alone; no v -> o group when v and o differ in shape, as with
GQA); the first ratio of least loss wins; asymmetric (zero_point) 4-bit min-max groups of
--group; no clip search (mse_range=False); fp32 weights and activations. Each block's searches
see its FP weights and inputs, the scales are then applied and the block's output feeds the
next (run_awq's order; the harness's too). Which ratio each search chose is read back exactly:
the scales it returns are compared, bit for bit, with the scales of every grid ratio recomputed
by the same torch operations from the same channel means.
"""
import importlib.machinery
import importlib.util
import os
import sys
import time
import types

import torch

from peer_awq_common import GROUP_OF_PREV_OP, check_args, common_args, print_alphas, read_blocks

N_GRID = 20   # fixed inside llm-awq's _search_module_scale


def import_llm_awq(src):
    """llm-awq's modules from src. Its `awq` is a namespace package (no __init__.py) and
    AutoAWQ's, in the same venv, a regular one that would win the import: `awq` is bound to
    src/awq first."""
    if not os.path.isfile(os.path.join(src, "awq", "quantize", "auto_scale.py")):
        sys.exit(f"{src}: not a copy of mit-han-lab/llm-awq (no awq/quantize/auto_scale.py)")
    sys.path.insert(0, src)
    spec = importlib.machinery.ModuleSpec("awq", None, is_package=True)
    spec.submodule_search_locations = [os.path.join(src, "awq")]
    sys.modules["awq"] = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("awq_inference_engine", types.ModuleType("awq_inference_engine"))
    from awq.quantize import auto_scale, pre_quant
    from awq.utils import calib_data
    return pre_quant, auto_scale, calib_data


def run_on_cpu(pre_quant):
    """run_awq's CUDA calls as no-ops."""
    pre_quant.move_embed = lambda model, device: None   # .to("cuda") / .to("cpu") of the embeddings
    torch.nn.Module.cuda = lambda self, *args, **kw: self
    torch.Tensor.cuda = lambda self, *args, **kw: self
    torch.cuda.empty_cache = lambda: None


def ratio_of(scales, x_max):
    """The grid ratio whose scales, computed as _search_module_scale computes them, equal
    `scales` bit for bit; None if none does."""
    for i in range(N_GRID):
        s = x_max.pow(i / N_GRID).clamp(min=1e-4).view(-1)
        s = s / (s.max() * s.min()).sqrt()
        if torch.equal(s.view(-1), scales.view(-1)):
            return i / N_GRID
    return None


def instrument(pre_quant, auto_scale, chosen, timing):
    """GPU semantics and the record of each search: wraps auto_scale_block as run_awq calls it
    (pre_quant's own name for it) and get_act_scale, which each search calls once."""
    x_maxes = []
    orig_act = auto_scale.get_act_scale
    orig_block = pre_quant.auto_scale_block
    orig_cpu = torch.Tensor.cpu

    def act_recorded(x):
        v = orig_act(x)
        x_maxes.append(v.clone())
        return v

    def cpu_copy(self, *args, **kw):
        return self.clone() if self.device.type == "cpu" else orig_cpu(self, *args, **kw)

    def block_searched(module, *args, **kw):
        layer = len(timing) - 1   # run_awq searches the blocks in order, once each
        x_maxes.clear()
        torch.Tensor.cpu = cpu_copy
        t0 = time.time()
        try:
            scales_list = orig_block(module, *args, **kw)
        finally:
            torch.Tensor.cpu = orig_cpu
        timing[-1] = time.time() - t0
        timing.append(0.0)
        if len(x_maxes) != len(scales_list):
            sys.exit(f"block {layer}: {len(x_maxes)} searches, {len(scales_list)} scales")
        for (prev_op, _, scales), x_max in zip(scales_list, x_maxes):
            r = ratio_of(scales, x_max)
            if r is None:
                sys.exit(f"block {layer} {prev_op}: the scales match no grid ratio")
            chosen.append((layer, GROUP_OF_PREV_OP.get(prev_op, prev_op), r))
        return scales_list

    auto_scale.get_act_scale = act_recorded
    pre_quant.auto_scale_block = block_searched


def main():
    ap = common_args("llm-awq's AWQ search on the harness's calibration ids (bench/peers.sh)")
    ap.add_argument("--src", required=True, help="a copy of mit-han-lab/llm-awq's source")
    a = ap.parse_args()
    check_args(a)
    torch.set_num_threads(a.threads)
    blocks = read_blocks(a.ids, a.samples, a.seqlen)

    pre_quant, auto_scale, calib_data = import_llm_awq(a.src)
    run_on_cpu(pre_quant)
    calib_data.get_calib_dataset = lambda **kw: [torch.tensor([b]) for b in blocks]
    chosen, timing = [], [0.0]
    instrument(pre_quant, auto_scale, chosen, timing)

    from transformers import AutoConfig, AutoModelForCausalLM
    config = AutoConfig.from_pretrained(a.model)
    config.use_cache = False
    model = AutoModelForCausalLM.from_pretrained(a.model, config=config, torch_dtype=torch.float32)
    model.eval()
    q_config = {"zero_point": True, "q_group_size": a.group}
    t0 = time.time()
    pre_quant.run_awq(model, None, w_bit=4, q_config=q_config, n_samples=a.samples,
                      seqlen=a.seqlen, auto_scale=True, mse_range=False)
    seconds = time.time() - t0
    print_alphas(chosen)
    print(f"seconds={seconds:.3f} search_seconds={sum(timing):.3f} groups={len(chosen)} "
          f"gpu_semantics=1")


if __name__ == "__main__":
    main()
