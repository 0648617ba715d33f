"""gguf_to_hf.py GGUF OUT_DIR — a GGUF file as a HuggingFace directory, by transformers' own
GGUF loader (`from_pretrained(..., gguf_file=...)`: dequantizes, undoes llama.cpp's Q/K row
order, builds the config and the tokenizer from the metadata), saved with `save_pretrained`.

test_interop_quant.sh converts stories260K this way (the harness's GGUF export of the llama2.c
checkpoint): "stories260K converted to HF" by a real tool, not by the harness itself.
Runs in the peers' venv (tools/peers/venv: transformers, gguf-py).
"""
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    src, out = sys.argv[1], sys.argv[2]
    d, f = os.path.split(os.path.abspath(src))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    # transformers marks a model loaded from GGUF as quantized (not serializable) although its
    # weights are plain float32 tensors by now: the same weights into a model built from the
    # config alone, which saves as an ordinary checkpoint.
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    plain = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.save_pretrained(out)
    AutoTokenizer.from_pretrained(d, gguf_file=f).save_pretrained(out)
    print("gguf_to_hf: %s -> %s (%s, %d parameters)" % (src, out, model.config.model_type,
                                                       sum(p.numel() for p in model.parameters())))


if __name__ == "__main__":
    main()
