// gguf.h — the quantized model as one GGUF file that llama.cpp loads unchanged.
//
// What is written (names and keys as llama.cpp's convert_hf_to_gguf.py writes them; facts in
// ../shared/design/FORMATS.md section 4):
//   - general.architecture "llama" (HF llama, mistral; llama2.c) or "qwen2", the
//     hyper-parameters llama.cpp reads ({arch}.context_length, embedding_length, block_count,
//     feed_forward_length, attention.head_count / head_count_kv / layer_norm_rms_epsilon,
//     rope.freq_base / dimension_count, vocab_size, key_length / value_length when the head
//     width is not C/H), and the tokenizer (tokenizer.ggml.*: text/tok_vocab.h);
//   - every tensor the forward pass uses, with the values the harness evaluated: quantized
//     linears fake-quantized, AWQ-folded norms, the rest as stored. 2-D tensors keep their
//     source dtype when GGUF has it exactly (F32, F16; BF16 is widened to F32), norms and
//     biases are F32 (as llama.cpp's converter keeps them). Nothing is re-quantized, so
//     llama.cpp computes with the same weights;
//   - HF llama's q_proj / k_proj rows permuted per head from rotate-half to llama.cpp's
//     interleaved RoPE (convert_hf_to_gguf.py LlamaModel.permute); llama2.c checkpoints are
//     interleaved already, Qwen2 runs NEOX RoPE in llama.cpp: neither is permuted. A llama
//     file says which in GGUF_KEY_ROPE_SOURCE (below), for the importer.
#ifndef AH_EXPORT_GGUF_H
#define AH_EXPORT_GGUF_H

#include "export/export.h"
#include "io/gguf_write.h"
#include "text/tokenizer.h"

// A llama file's Q/K rows as the source checkpoint had them: "rotate-half" (HF: rows permuted
// to llama.cpp's interleaved order) or "interleaved" (llama2.c: written as they were). The
// importer (model/gguf_model.c) reads it to give back the source's own rows and RoPE.
#define GGUF_KEY_ROPE_SOURCE "awq_harness.rope_source"

// GGUF name of a layer role ("attn_q.weight"; the loader prefixes "blk.N.") or of a global
// ("token_embd.weight"); NULL when llama.cpp's llama / qwen2 graphs have none.
const char *qexport_gguf_layer_name(arch_layer_role r);
const char *qexport_gguf_global_name(arch_global g);

// Source row of GGUF row r of a (rows, cols) Q or K weight under llama.cpp's permutation over
// nh heads of width D = rows / nh (nh <= 0: none): convert_hf_to_gguf's
// reshape(nh, 2, D/2, cols).swapaxes(1, 2) puts source row h*D + t*(D/2) + j at h*D + 2*j + t.
size_t qexport_gguf_src_row(size_t r, size_t rows, int nh);

// 0 when a GGUF file can hold m with tokenizer tok; else one message naming what does not fit
// (a family llama.cpp has no architecture for here, a tensor with no GGUF name, a
// tokenizer it cannot reproduce). Cheap: run before the work.
int qexport_gguf_check(const model *m, const tok_tokenizer *tok, ah_err *e);

// 0 when the run (model m, method mc) maps exactly onto qtype's blocks (Q4_0: rtn 4-bit g32;
// Q4_1: an asymmetric quantizer 4-bit g32; Q8_0: rtn 8-bit g32; an F32 checkpoint: llama.cpp
// dequantizes in fp32), else one message. Before the work.
int qexport_gguf_check_blocks(const model *m, const method_cfg *mc, gguf_ggml_type qtype,
                              ah_err *e);

// Writes the GGUF file at path (created or replaced by the caller's rename) from the export x
// of model m. method_json: a one-line description of the run stored as awq_harness.run.
// qtype GGML_T_F32: quantized linears as their fake-quantized values (F32/F16); Q4_0 / Q4_1 /
// Q8_0: as blocks (the run must pass qexport_gguf_check_blocks), each block dequantized as
// llama.cpp does and compared with the evaluated weights as it is written: *max_diff (NULL:
// not wanted) receives the largest difference, and any difference fails the export.
int qexport_gguf_write(const qexport *x, const model *m, const tok_tokenizer *tok,
                       const char *path, const char *method_json, gguf_ggml_type qtype,
                       double *max_diff, ah_err *e);

#endif
