// formats.c — the export format table (formats.h) and the small adapters between it and each
// writer.
#include "export/formats.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "export/export_dir.h"
#include "export/gguf.h"
#include "export/hf_quant.h"

// --------------------------------------------------------------------------------------------
// harness: the layout of export.h, a directory.

static int harness_check(const model *m, const method_cfg *mc, const tok_tokenizer *tok,
                         const char *out, ah_err *e) {
    (void)mc, (void)tok;
    // The harness format rewrites the source checkpoint's own files (safetensors or llama2.c).
    if (m->gguf)
        return ah_fail(e, "--format harness rewrites a safetensors or llama2.c checkpoint; %s is a "
                       "GGUF file: export it with --format gguf (or gguf-q4_0 / q4_1 / q8_0)", m->path);
    return qexport_dir_check_target(out, e);
}

static int harness_write(qexport *x, const model *m, const tok_tokenizer *tok, const char *out,
                         const char *tokenizer_path, const char *manifest_json,
                         const awq_block_result *awq, double *max_abs_diff, ah_err *e) {
    (void)m, (void)tok;
    *max_abs_diff = NAN;   // holds the evaluated values themselves
    return qexport_write(x, out, tokenizer_path, manifest_json, awq, e);
}

// --------------------------------------------------------------------------------------------
// gguf: one file for llama.cpp. --out FILE.gguf writes that file (through a temporary renamed
// into place); any other --out is an export directory holding model.gguf and manifest.json.

static int is_gguf_path(const char *out) {
    size_t n = strlen(out);
    return n > 5 && strcmp(out + n - 5, ".gguf") == 0;
}

static int gguf_check_as(gguf_ggml_type qtype, const model *m, const method_cfg *mc,
                         const tok_tokenizer *tok, const char *out, ah_err *e);

static int gguf_check(const model *m, const method_cfg *mc, const tok_tokenizer *tok,
                      const char *out, ah_err *e) {
    return gguf_check_as(GGML_T_F32, m, mc, tok, out, e);
}

// qtype: the block type of the quantized linears (GGML_T_F32: none, fake-quantized values).
static int gguf_check_as(gguf_ggml_type qtype, const model *m, const method_cfg *mc,
                         const tok_tokenizer *tok, const char *out, ah_err *e) {
    if (is_gguf_path(out)) {
        struct stat sb;
        if (stat(out, &sb) == 0 && !S_ISREG(sb.st_mode))
            return ah_fail(e, "--out %s: exists and is not a regular file", out);
    } else if (qexport_dir_check_target(out, e)) {
        return -1;
    }
    if (qtype != GGML_T_F32 && qexport_gguf_check_blocks(m, mc, qtype, e)) return -1;
    return qexport_gguf_check(m, tok, e);
}

// The run's manifest as the GGUF carries it: the harness layout's description dropped (no
// quantized.safetensors here), the format named.
static char *gguf_manifest(const char *manifest_json, gguf_ggml_type qtype, ah_err *e) {
    json_t *j = json_loads(manifest_json, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        ah_fail(e, "GGUF export: the manifest is not a JSON object");
        return NULL;
    }
    json_object_del(j, "packed_layout");
    json_object_set_new(j, "format", json_string(qtype == GGML_T_Q4_0 ? "gguf-q4_0"
                                                 : qtype == GGML_T_Q4_1 ? "gguf-q4_1"
                                                 : qtype == GGML_T_Q8_0 ? "gguf-q8_0" : "gguf"));
    json_object_set_new(j, "weights", json_string(qtype == GGML_T_F32 ?
        "model.gguf: every tensor llama.cpp reads, with the values the harness evaluated "
        "(quantized linears fake-quantized), F32 or F16 as the source held them exactly" :
        "model.gguf: every tensor llama.cpp reads; quantized linears as blocks that llama.cpp "
        "dequantizes to exactly the weights the harness evaluated (export_check), the rest F32"));
    // The write fails unless the check finds 0 (qexport_gguf_write), so 0 is what a file says.
    json_object_set_new(j, "export_check", json_pack("{s:f, s:s}", "max_abs_diff", 0.0, "what",
        "model.gguf read back and every tensor dequantized as llama.cpp does (fp32) against the "
        "evaluated weights"));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) ah_fail(e, "out of memory (manifest)");
    return text;
}

static int gguf_write_as(gguf_ggml_type qtype, qexport *x, const model *m,
                         const tok_tokenizer *tok, const char *out, const char *manifest_in,
                         double *max_abs_diff, ah_err *e) {
    double max_diff = 0;
    char tmp[4200], file[4300];
    char *manifest_json = gguf_manifest(manifest_in, qtype, e);
    if (!manifest_json) return -1;
    int rc = -1;
    if (is_gguf_path(out)) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
        rc = qexport_gguf_write(x, m, tok, tmp, manifest_json, qtype, &max_diff, e);
        if (!rc && rename(tmp, out) != 0)
            rc = ah_fail(e, "%s: cannot rename into place: %s", out, strerror(errno));
        if (rc) unlink(tmp);
    } else if (!(rc = qexport_dir_begin(out, tmp, sizeof tmp, e))) {
        ah_path_join(file, sizeof file, tmp, "model.gguf");
        rc = qexport_gguf_write(x, m, tok, file, manifest_json, qtype, &max_diff, e);
        if (!rc) rc = qexport_dir_manifest(tmp, manifest_json, e);
        if (!rc) rc = qexport_dir_commit(tmp, out, e);
        if (rc) qexport_dir_abort(tmp);
    }
    free(manifest_json);
    *max_abs_diff = max_diff;
    return rc;
}

static int gguf_write(qexport *x, const model *m, const tok_tokenizer *tok, const char *out,
                      const char *tokenizer_path, const char *manifest_in,
                      const awq_block_result *awq, double *max_abs_diff, ah_err *e) {
    (void)tokenizer_path, (void)awq;
    return gguf_write_as(GGML_T_F32, x, m, tok, out, manifest_in, max_abs_diff, e);
}

// gguf-q4_0, gguf-q4_1, gguf-q8_0: the same file with the quantized linears as blocks.
#define GGUF_BLOCK_ROW(fn, T, SCALES)                                                          \
    static int fn##_check(const model *m, const method_cfg *mc, const tok_tokenizer *tok,     \
                          const char *out, ah_err *e) {                                        \
        return gguf_check_as(T, m, mc, tok, out, e);                                           \
    }                                                                                          \
    static int fn##_write(qexport *x, const model *m, const tok_tokenizer *tok,                \
                          const char *out, const char *tokenizer_path,                         \
                          const char *manifest_json, const awq_block_result *awq,          \
                          double *max_abs_diff, ah_err *e) {                                   \
        (void)tokenizer_path, (void)awq;                                                       \
        return gguf_write_as(T, x, m, tok, out, manifest_json, max_abs_diff, e);               \
    }                                                                                          \
    static quant_scale_dtype fn##_scales(const model *m) {                                    \
        (void)m;                                                                               \
        return SCALES;                                                                         \
    }
GGUF_BLOCK_ROW(q4_0, GGML_T_Q4_0, QUANT_SCALE_F16)
GGUF_BLOCK_ROW(q4_1, GGML_T_Q4_1, QUANT_SCALE_F16_Q41)
GGUF_BLOCK_ROW(q8_0, GGML_T_Q8_0, QUANT_SCALE_F16)
#undef GGUF_BLOCK_ROW

// --------------------------------------------------------------------------------------------
// awq, gptq, compressed-tensors: quantized HuggingFace directories (export/hf_quant.h).

static int hq_check(hq_format f, const model *m, const method_cfg *mc, const char *out, ah_err *e) {
    if (qexport_dir_check_target(out, e)) return -1;
    return qexport_hq_check(f, m, mc, e);
}

static int hq_write(hq_format f, qexport *x, const model *m, const char *out,
                    const char *manifest_json, double *max_abs_diff, ah_err *e) {
    return qexport_hq_write(f, x, m, out, manifest_json, max_abs_diff, e);
}

#define HQ_ROW(fn, F)                                                                          \
    static int fn##_check(const model *m, const method_cfg *mc, const tok_tokenizer *tok,     \
                          const char *out, ah_err *e) {                                        \
        (void)tok;                                                                             \
        return hq_check(F, m, mc, out, e);                                                     \
    }                                                                                          \
    static int fn##_write(qexport *x, const model *m, const tok_tokenizer *tok,                \
                          const char *out, const char *tokenizer_path,                         \
                          const char *manifest_json, const awq_block_result *awq,          \
                          double *max_abs_diff, ah_err *e) {                                   \
        (void)tok, (void)tokenizer_path, (void)awq;                                            \
        return hq_write(F, x, m, out, manifest_json, max_abs_diff, e);                         \
    }                                                                                          \
    static quant_scale_dtype fn##_scales(const model *m) { return qexport_hq_scale_dtype(F, m); }
HQ_ROW(awq, HQ_AWQ)
HQ_ROW(gptq, HQ_GPTQ)
HQ_ROW(ct, HQ_CT)
#undef HQ_ROW

// --------------------------------------------------------------------------------------------

static const qexport_format FORMATS[] = {
    {"harness", "fake-quantized checkpoint + packed codes + manifest (a directory)",
     0, 0, NULL, harness_check, harness_write},
    {"gguf", "a GGUF file for llama.cpp, F32/F16 with the quantization applied (docs/EXPORT.md)",
     1, 1, NULL, gguf_check, gguf_write},
    {"gguf-q4_0", "GGUF with Q4_0 blocks: rtn 4-bit group 32, fp16 scales (F32 checkpoints)",
     1, 0, q4_0_scales, q4_0_check, q4_0_write},
    {"gguf-q4_1", "GGUF with Q4_1 blocks: minmax/awq/gptq 4-bit group 32 (scales of 7 bits)",
     1, 0, q4_1_scales, q4_1_check, q4_1_write},
    {"gguf-q8_0", "GGUF with Q8_0 blocks: rtn 8-bit group 32, fp16 scales",
     1, 0, q8_0_scales, q8_0_check, q8_0_write},
    {"awq", "AutoAWQ GEMM directory (transformers, vLLM): 4-bit, fp16 scales",
     0, 0, awq_scales, awq_check, awq_write},
    {"gptq", "GPTQ directory: v1 for rtn (symmetric) codes, gptq_v2 otherwise; fp16 scales",
     0, 0, gptq_scales, gptq_check, gptq_write},
    {"compressed-tensors", "llm-compressor pack-quantized W4A16/W8A16 directory (vLLM)",
     0, 0, ct_scales, ct_check, ct_write},
};

const qexport_format *qexport_format_find(const char *name) {
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (!strcmp(FORMATS[i].name, name)) return &FORMATS[i];
    return NULL;
}

const char *qexport_format_list(void) {
    static char list[256];   // built from the table once; the table never changes
    if (!list[0])
        for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     FORMATS[i].name);
    return list;
}

void qexport_format_usage(FILE *f) {
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        fprintf(f, "                        %-18s %s\n", FORMATS[i].name, FORMATS[i].what);
}

quant_scale_dtype qexport_format_scales(const qexport_format *f, const model *m) {
    return f->scale_dtype ? f->scale_dtype(m) : QUANT_SCALE_F32;
}
