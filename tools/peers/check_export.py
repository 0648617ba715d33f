#!/usr/bin/env python3
"""check_export.py — the real peers dequantize a quantized directory the harness wrote and must
return exactly the weights the harness evaluated (issue 21, docs/EXPORT.md "Checked by the real
loaders"). Runs in a peers' venv: tools/peers/venv for awq and compressed-tensors,
`tools/peers/venv gptq` for gptq and transformers (GPTQModel, which transformers needs for AWQ
and GPTQ directories, requires a newer transformers and torch than the main lock).

usage: check_export.py CHECK EXPORT_DIR REFERENCE_DIR [--nll IDS_FILE SEQLEN NLL [TOL]]
       check_export.py --cases FILE   (one case a line: LABEL CHECK EXPORT_DIR REFERENCE_DIR [...])

CHECK          awq                 AutoAWQ's own awq/utils/packing_utils.py `dequantize_gemm`
                                   (imported by file path: the autoawq package __init__ imports
                                   kernels and transformers APIs that 5.x removed)
               compressed-tensors  `PackedQuantizationCompressor.decompress` with the scheme
                                   compressed-tensors parses from config.json, then transformers
               gptq                GPTQModel's own loader (`GPTQModel.load`, backend TORCH: it
                                   turns a v1 checkpoint into its internal v2 zeros) and its
                                   torch kernel's `dequantize_weight`, then transformers
               transformers        transformers alone (for awq in the gptq venv)
EXPORT_DIR     `awq-harness quantize --format F --out EXPORT_DIR`
REFERENCE_DIR  `awq-harness quantize --format harness --scale-dtype D` of the same run: its
               model.safetensors holds the evaluated (fake-quantized) weights
"transformers": AutoModelForCausalLM loads EXPORT_DIR on CPU in float32 (compressed-tensors
               decompressed at load; awq and gptq through gptqmodel's kernels, which in float32
               dequantize and multiply densely) and each quantized linear's weight, as the
               loaded module dequantizes it, must equal the evaluated one.
--nll          IDS_FILE: token ids (whitespace separated); NLL: the mean negative log-likelihood
               `awq-harness eval --data ids:IDS_FILE --seqlen SEQLEN` prints (nll=, the gptq
               protocol: consecutive windows of SEQLEN, every token but a window's first
               scored). transformers' mean NLL over the same windows must match within TOL
               (default 1e-5).
Exit status: 0 all equal, 1 a mismatch, 2 usage, 3 a peer is missing.
"""
import importlib.util
import json
import os
import sys
import traceback

# GPTQModel wraps its kernels' dequantization in torch.compile; compiling (inductor, C++) costs
# about 15 s per shape on this project's 2 shared cores and computes the same integer unpacking
# and one multiply. Eager mode keeps the test within its time budget.
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


class CheckFailed(Exception):
    """One case's failure: its message and the exit status it gives."""

    def __init__(self, msg, code=1):
        super().__init__(msg)
        self.code = code


def fail(msg, code=1):
    raise CheckFailed(msg, code)


def compare(name, got, ref):
    got = got.to(torch.float32)
    if got.shape != ref.shape:
        fail(f"{name}: shape {tuple(got.shape)} != evaluated {tuple(ref.shape)}")
    d = (got - ref).abs()
    if torch.isnan(d).any():
        fail(f"{name}: NaN in the peer's weights")
    worst = d.max().item()
    if worst != 0.0:
        i = int(d.argmax())
        fail(f"{name}: max |peer - evaluated| = {worst:g} at flat index {i} "
             f"(peer {got.flatten()[i].item()!r}, evaluated {ref.flatten()[i].item()!r})")
    return 1




def awq_packing_module():
    spec = importlib.util.find_spec("awq")
    if spec is None or not spec.submodule_search_locations:
        fail("AutoAWQ (autoawq) is not installed in this environment", 3)
    path = os.path.join(list(spec.submodule_search_locations)[0], "utils", "packing_utils.py")
    s = importlib.util.spec_from_file_location("awq_packing_utils", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


def check_awq(export_dir, ref, qc):
    pk = awq_packing_module()
    st = load_file(os.path.join(export_dir, "model.safetensors"))
    n = 0
    for key in st:
        if not key.endswith(".qweight"):
            continue
        p = key[: -len(".qweight")]
        # Float scales: AutoAWQ's product (int - int) * scales is then exact in fp32, which is
        # what the harness evaluates for an F32 model (an F16 model's are rounded: below).
        w = pk.dequantize_gemm(st[p + ".qweight"], st[p + ".qzeros"], st[p + ".scales"].float(),
                               qc["bits"], qc["group_size"]).T
        r = ref[p + ".weight"]
        if r.dtype != torch.float32:
            w = w.to(r.dtype)
        n += compare(p, w, r.float())
    return n


def check_ct(export_dir, ref, qc):
    from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
    from compressed_tensors.quantization import QuantizationConfig

    cfg = QuantizationConfig.model_validate(qc)
    scheme = cfg.config_groups["group_0"]
    st = load_file(os.path.join(export_dir, "model.safetensors"))
    n = 0
    for key in st:
        if not key.endswith(".weight_packed"):
            continue
        p = key[: -len(".weight_packed")]
        sd = {k[len(p) + 1:]: v for k, v in st.items() if k.startswith(p + ".weight_")}
        out = PackedQuantizationCompressor.decompress(sd, scheme)
        n += compare(p, out["weight"], ref[p + ".weight"].float())
    return n


def check_gptq(export_dir, ref):
    try:
        from gptqmodel import BACKEND, GPTQModel
        from gptqmodel.nn_modules.qlinear import BaseQuantLinear
    except ImportError:
        fail("GPTQModel (gptqmodel) is not installed here: run in `tools/peers/venv gptq`", 3)
    # GPTQModel's loader accepts only float16/bfloat16 models. Its torch kernel computes
    # scales[g] * (q - z) in the scales' dtype: in float16 that product is rounded to F16, which
    # is what the harness evaluates for an F16 model; for an F32 model the scales are widened
    # first, so the product of an F16 scale and an integer of at most 9 bits is exact, as in the
    # harness (the codes and zeros are untouched: that is the unpacking under test).
    model = GPTQModel.load(export_dir, device="cpu", backend=BACKEND.TORCH, dtype=torch.float16)
    n = 0
    for name, mod in model.model.named_modules():
        if not isinstance(mod, BaseQuantLinear):
            continue
        r = ref[name + ".weight"]
        if r.dtype == torch.float32:
            mod.scales = mod.scales.float()
        n += compare("gptqmodel " + name, mod.dequantize_weight().T, r.float())
    return n


def loaded_weight(mod):
    """The (O, I) weight a transformers-loaded linear computes with: a dense one's own, or the
    dequantization of gptqmodel's AWQ or GPTQ module (what its float32 forward multiplies by)."""
    if hasattr(mod, "awq_weight_dequantize"):
        return mod.awq_weight_dequantize(device="cpu", dtype=torch.float32).T
    if hasattr(mod, "dequantize_weight") and hasattr(mod, "qweight"):
        return mod.dequantize_weight().T
    return mod.weight.detach()


def check_transformers(export_dir, ref, qc, nll):
    from transformers import AutoModelForCausalLM

    kw = {}
    if qc["quant_method"] == "compressed-tensors":
        from transformers import CompressedTensorsConfig
        # dequantize=True: transformers decompresses every linear at load (on CPU it would
        # otherwise keep the packed tensors and decompress in each forward, the same numbers).
        kw["quantization_config"] = CompressedTensorsConfig(dequantize=True)
    model = AutoModelForCausalLM.from_pretrained(export_dir, dtype=torch.float32,
                                                 device_map="cpu", **kw)
    model.eval()
    n = 0
    for name, mod in model.named_modules():
        if name + ".weight" in ref and name != "lm_head" and (
                isinstance(mod, torch.nn.Linear) or hasattr(mod, "qweight")):
            # Loaded in float32, transformers keeps s * (q - z) exact; the harness evaluates an
            # F16/BF16 checkpoint's weights rounded to its dtype, as a runtime in that dtype has them.
            r = ref[name + ".weight"]
            if hasattr(mod, "qweight") and mod.scales.dtype.itemsize < r.dtype.itemsize:
                # gptqmodel's modules keep the file's F16 scales in a float32 model and
                # dequantize in F16: their weights are the evaluated ones rounded to F16 (so
                # transformers' NLL differs from the harness's by that rounding: the tolerance).
                r = r.to(mod.scales.dtype)
            n += compare("transformers " + name, loaded_weight(mod).to(r.dtype), r.float())
    if n == 0:
        fail("transformers loaded no quantized linear that the reference names")
    if nll:
        ids_file, seqlen, want = nll[0], int(nll[1]), float(nll[2])
        tol = float(nll[3]) if len(nll) > 3 else 1e-5
        ids = torch.tensor([int(t) for t in open(ids_file).read().split()])
        windows = ids[: ids.numel() // seqlen * seqlen].view(-1, seqlen)
        total, count = 0.0, 0
        with torch.no_grad():
            # Windows in batches: gptqmodel's float32 forward dequantizes every linear on each
            # call, so one call per window would spend most of the time unpacking.
            for x in windows.split(16):
                logits = model(x).logits.double()
                lp = torch.log_softmax(logits[:, :-1], dim=-1)
                total -= lp.gather(2, x[:, 1:, None]).sum().item()
                count += x.shape[0] * (seqlen - 1)
        got = total / count
        print(f"check_export: transformers mean NLL {got:.8f}, harness {want:.8f} "
              f"({count} tokens): |diff| = {abs(got - want):.3g}")
        if not abs(got - want) <= tol:
            fail(f"transformers' mean NLL differs from the harness's by {abs(got - want):g} (> {tol:g})")
    return n


def run_case(args):
    """One case: CHECK EXPORT_DIR REFERENCE_DIR [--nll IDS_FILE SEQLEN NLL [TOL]]."""
    if len(args) < 3 or (len(args) > 3 and (args[3] != "--nll" or len(args) not in (7, 8))):
        fail("usage: CHECK EXPORT_DIR REFERENCE_DIR [--nll IDS_FILE SEQLEN NLL [TOL]]", 2)
    check, export_dir, ref_dir = args[:3]
    nll = args[4:] if len(args) > 3 else None
    qc = json.load(open(os.path.join(export_dir, "config.json")))["quantization_config"]
    ref = load_file(os.path.join(ref_dir, "model.safetensors"))
    if check == "awq":
        n = check_awq(export_dir, ref, qc)
    elif check == "compressed-tensors":
        n = check_ct(export_dir, ref, qc)
        n += check_transformers(export_dir, ref, qc, nll)
    elif check == "gptq":
        n = check_gptq(export_dir, ref)
        n += check_transformers(export_dir, ref, qc, nll)
    elif check == "transformers":
        n = check_transformers(export_dir, ref, qc, nll)
    else:
        fail(f"no check '{check}' here (awq, compressed-tensors, gptq, transformers)", 2)
    if n == 0:
        fail("no quantized linear found")
    print(f"check_export: {check} ({qc['quant_method']}): {n} linears equal to the evaluated weights")


def main(argv):
    # --cases FILE: one case per line, `LABEL CHECK EXPORT_DIR REFERENCE_DIR [--nll ...]`, all
    # run in this one process (importing torch, transformers and gptqmodel costs about 10 s of
    # CPU per process); every case runs, and the status is the first failure's.
    if len(argv) == 3 and argv[1] == "--cases":
        status = 0
        for line in open(argv[2]):
            if not line.split():
                continue
            label, *args = line.split()
            print(f"check_export: [{label}]", flush=True)
            try:
                run_case(args)
            except CheckFailed as e:
                print(f"check_export: [{label}] FAIL: {e}", flush=True)
                status = status or e.code
            except Exception as e:  # a peer that cannot load the case: the next ones still run
                traceback.print_exc()
                print(f"check_export: [{label}] FAIL: {type(e).__name__}: {e}", flush=True)
                status = status or 1
        return status
    try:
        run_case(argv[1:])
    except CheckFailed as e:
        print("check_export: " + str(e), file=sys.stderr)
        if e.code == 2:
            print(__doc__, file=sys.stderr)
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
