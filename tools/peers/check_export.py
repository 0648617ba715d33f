#!/usr/bin/env python3
"""check_export.py — the real peers dequantize a quantized directory the harness wrote and must
return exactly the weights the harness evaluated (issue 21, docs/EXPORT.md "Checked by the real
loaders"). Runs in the peers' venv (tools/peers/venv).

usage: check_export.py FORMAT EXPORT_DIR REFERENCE_DIR [--nll IDS_FILE SEQLEN NLL]

FORMAT         awq | compressed-tensors | gptq
EXPORT_DIR     `awq-harness quantize --format FORMAT --out EXPORT_DIR`
REFERENCE_DIR  `awq-harness quantize --format harness --scale-dtype D` of the same run: its
               model.safetensors holds the evaluated (fake-quantized) weights
--nll          IDS_FILE: token ids (whitespace separated); NLL: the mean negative log-likelihood
               `awq-harness eval --data ids:IDS_FILE --seqlen SEQLEN` prints (nll=, the gptq
               protocol: consecutive windows of SEQLEN, every token but a window's first
               scored). transformers loads EXPORT_DIR on CPU in float32 and its mean NLL over
               the same windows must match within 1e-5.

Peers: awq -> AutoAWQ's own awq/utils/packing_utils.py `dequantize_gemm` (imported by file path:
the autoawq package __init__ imports kernels and transformers APIs that 5.x removed);
compressed-tensors -> `PackedQuantizationCompressor.decompress` with the scheme parsed by
compressed-tensors from config.json, and transformers' own loader (which decompresses);
gptq -> GPTQ's v1/v2 dequantization as GPTQModel's torch kernel writes it is not importable
here (gptqmodel 7.x needs transformers >= 5.20 and torch >= 2.14.1), so gptq is refused.
Exit status: 0 all equal, 1 a mismatch, 2 usage, 3 a peer is missing.
"""
import importlib.util
import json
import os
import sys

import torch
from safetensors.torch import load_file


def fail(msg, code=1):
    print("check_export: " + msg, file=sys.stderr)
    sys.exit(code)


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


def check_transformers(export_dir, ref, nll):
    from transformers import AutoModelForCausalLM, CompressedTensorsConfig

    # dequantize=True: transformers decompresses every linear at load (on CPU it would
    # otherwise keep the packed tensors and decompress in each forward, the same numbers).
    model = AutoModelForCausalLM.from_pretrained(
        export_dir, dtype=torch.float32,
        quantization_config=CompressedTensorsConfig(dequantize=True))
    model.eval()
    n = 0
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name + ".weight" in ref and name != "lm_head":
            # Loaded in float32, transformers keeps s * (q - z) exact; the harness evaluates an
            # F16/BF16 checkpoint's weights rounded to its dtype, as a runtime in that dtype has them.
            r = ref[name + ".weight"]
            n += compare("transformers " + name, mod.weight.detach().to(r.dtype), r.float())
    if nll:
        ids_file, seqlen, want = nll[0], int(nll[1]), float(nll[2])
        ids = torch.tensor([int(t) for t in open(ids_file).read().split()])
        total, count = 0.0, 0
        with torch.no_grad():
            for w in range(ids.numel() // seqlen):
                x = ids[w * seqlen:(w + 1) * seqlen][None]
                logits = model(x).logits[0].double()
                lp = torch.log_softmax(logits[:-1], dim=-1)
                total -= lp.gather(1, x[0, 1:, None]).sum().item()
                count += seqlen - 1
        got = total / count
        print(f"check_export: transformers mean NLL {got:.8f}, harness {want:.8f} "
              f"({count} tokens): |diff| = {abs(got - want):.3g}")
        if not abs(got - want) <= 1e-5:
            fail(f"transformers' mean NLL differs from the harness's by {abs(got - want):g} (> 1e-5)")
    return n


def main(argv):
    if len(argv) not in (4, 8) or (len(argv) == 8 and argv[4] != "--nll"):
        print(__doc__, file=sys.stderr)
        return 2
    fmt, export_dir, ref_dir = argv[1:4]
    nll = argv[5:8] if len(argv) == 8 else None
    qc = json.load(open(os.path.join(export_dir, "config.json")))["quantization_config"]
    ref = load_file(os.path.join(ref_dir, "model.safetensors"))
    if fmt == "awq":
        n = check_awq(export_dir, ref, qc)
    elif fmt == "compressed-tensors":
        n = check_ct(export_dir, ref, qc)
        n += check_transformers(export_dir, ref, nll)
    else:
        fail(f"no peer for format '{fmt}' here", 3)
    if n == 0:
        fail("no quantized linear found")
    print(f"check_export: {fmt}: {n} linears equal to the evaluated weights")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
