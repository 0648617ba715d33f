// model.h — a loaded checkpoint: config, weights borrowed from the mmap'd file(s), and the
// conversion of one block at a time to fp32.
//
// Dims legend used throughout model/ and eval/:
//   T  tokens in a window        C  model width (hidden_size)
//   H  attention heads            G  key/value heads (GQA: H % G == 0)
//   D  head_dim                   F  MLP width (intermediate_size / ffn_dim)
//   V  vocabulary size
#ifndef AH_MODEL_H
#define AH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/safetensors.h"
#include "model/arch.h"

// Config limits (config.c, gguf_model.c): upper bounds that no real checkpoint reaches; they
// keep products far from overflow.
#define MODEL_MAX_DIM (1 << 20)
#define MODEL_MAX_LAYERS 4096
#define MODEL_MAX_VOCAB (1 << 24)
// RMSNorm eps: checkpoints use 1e-5 / 1e-6 (BERT-style 1e-12 at the least); an eps of 1 or more
// would swamp the mean square of unit-scale activations.
#define MODEL_MIN_EPS 1e-12
#define MODEL_MAX_EPS 1.0
// Rotary base: 1e4 (Llama 2) to 1e6-1e7 (long-context models). Below 1 the frequencies grow
// with the pair index (1e-45 gives inf angles); 1e12 leaves every float product finite.
#define MODEL_MIN_THETA 1.0
#define MODEL_MAX_THETA 1e12

typedef struct {
    const arch_desc *arch;
    int dim;              // C
    int hidden_dim;       // F
    int n_layers;
    int n_heads;          // H
    int n_kv_heads;       // G
    int head_dim;         // D
    int vocab_size;       // V
    int max_seq;          // longest window the model allows (max_position_embeddings)
    float norm_eps;
    float rope_theta;
    int tied_embeddings;  // lm_head shares G_EMBED
    int norm_before;      // pre-norm blocks (all but OPT-350m style post-norm)
    int bos_id, eos_id;   // from config.json when given, else -1
} model_config;

// A weight as stored: dtype and data borrowed from the mapping; shape (rows, cols) or (n).
typedef struct {
    const char *name;     // tensor name (owned by the model)
    st_dtype dtype;
    const void *data;     // NULL when the tensor is absent
    int ndim;
    int64_t shape[2];
} model_weight;

#define MODEL_NAME_CAP 128   // bytes reserved per tensor name in model.names

// A quantized checkpoint (AutoAWQ GEMM, GPTQ v1/v2, compressed-tensors pack-quantized) whose
// linears the loader dequantizes (model/import.c): W = s * (q - z) in fp32, rounded to dtype.
typedef enum { MQ_NONE, MQ_AWQ, MQ_GPTQ, MQ_CT } model_quant_format;
typedef struct {
    model_quant_format format;
    int bits, group;          // group -1: one group per row
    int gptq_v1;              // GPTQ checkpoint_format "gptq": stored zeros are z - 1
    int sym;                  // compressed-tensors symmetric: no zero tensor, z = 2^(b-1)
    st_dtype dtype;           // the dequantized weights' dtype: the embedding's
} model_quant;

typedef struct {
    model_config cfg;
    model_quant quant;        // format MQ_NONE for a plain checkpoint
    void **owned;             // [n_owned] dequantized weights (model_own), freed with the model
    size_t n_owned;
    char path[4096];          // what the user gave
    char format[16];          // "safetensors", "llama2c" or "gguf"
    st_set *st;               // safetensors set (HF directory), else NULL
    struct gguf_file *gguf;   // GGUF file (model/gguf_model.c), else NULL
    void *map;                // llama2.c file mapping, else NULL
    size_t map_len;
    model_weight global[G_COUNT];
    model_weight *layer;      // [n_layers][L_COUNT]
    char *names;              // [G_COUNT + n_layers*L_COUNT][MODEL_NAME_CAP] tensor names
} model;

// Hands p (malloc'd) to the model: freed with it (m->owned). On failure p is freed and e set.
int model_own(model *m, void *p, ah_err *e);

// Quantized checkpoints (import.c). model_import_detect reads config.json's
// "quantization_config" into m->quant (MQ_NONE when there is none; an error for a method or
// layout the importer does not read). model_import_linear builds the (O, I) weight `name`
// (NAME.weight) from NAME's quantized tensors into an owned buffer bound to w; errors name the
// tensor and what was expected.
int model_import_detect(model *m, const char *cfg_text, const char *cfg_path, ah_err *e);
int model_import_linear(model *m, model_weight *w, const char *name, const int64_t shape[2],
                        ah_err *e);

// Binds a GGUF file (llama or qwen2; model/gguf_model.c): config from its metadata, weights
// borrowed from the mapping or dequantized into m->owned.
int model_gguf_bind(model *m, ah_err *e);
// 1 when path names a GGUF file (a ".gguf" name, or the "GGUF" magic).
int model_is_gguf(const char *path);

// Loads a HuggingFace directory (config.json + safetensors), a llama2.c .bin file or a GGUF
// file.
// Every tensor the family needs is bound and shape-checked against the config here, so a
// missing or misshapen tensor is reported before any work starts.
model *model_load(const char *path, ah_err *e);
void model_free(model *m);   // NULL-safe

// Input width of the linears fed by `which`: C for q/k/v and gate/up, H*D for o, F for down.
int model_input_width(const model_config *c, fwd_input which);

// Shape a checkpoint must give a tensor under c: returns ndim (1 or 2; 0 = not a tensor of
// that role) and fills shape. Layer roles per arch.h; globals: embeddings and head (V, C),
// learned positions (max_seq + pos_offset, C), final norm (C).
int model_role_shape(const model_config *c, arch_layer_role r, int64_t shape[2]);
int model_global_shape(const model_config *c, arch_global g, int64_t shape[2]);

// Parses config.json text into cfg (file names the source for messages).
int model_config_parse(model_config *cfg, const char *json_text, const char *file, ah_err *e);

static inline const model_weight *model_lw(const model *m, int layer, arch_layer_role r) {
    return &m->layer[(size_t)layer * L_COUNT + r];
}

// One block's weights widened to fp32. w[r] is NULL for roles the family lacks.
// The storage is allocated once (block_f32_new) and reused for every layer: own[r] is role r's
// part of it. w[r] is what the forward reads: own[r] after block_f32_load, or the checkpoint's
// own read-only F32 storage after block_f32_view.
// A block may instead hold some linears packed (packed/packed.h): pk[r] non-NULL means the
// forward computes linear r from its codes (w[r] is then not read), with pk_scratch as the
// kernels' work space (packed_scratch floats of the widest of them). Both NULL here.
// A view (block_f32_view) of a block stored as F16 / BF16, on a CPU where model/gemm_stored.h's
// GEMM gives OpenBLAS's bits, leaves its linears where they lie: stored[r] is role r's stored
// halves (src[r] its tensor), which the forward multiplies by gemm_stored without widening
// them (fwd_block_linear); own[r] is widened only if a product is too small for that GEMM
// (block_f32_as_floats). The weights' NaN / infinity test then happens inside the GEMM and the
// widening, and block_f32_view_check names the first one after the forward.
struct packed_linear;
typedef struct block_stored block_stored;
typedef struct {
    float *w[L_COUNT];
    float *own[L_COUNT];
    size_t numel[L_COUNT];
    float *arena;
    const struct packed_linear *pk[L_COUNT];   // borrowed
    float *pk_scratch;                          // borrowed
    const uint16_t *stored[L_COUNT];            // borrowed from the mapping; NULL: use w[r]
    const model_weight *src[L_COUNT];           // the tensor behind stored[r]
    block_stored *sts;   // what the forward writes (model.c); NULL in packed_block_slim's blocks
} block_f32;

block_f32 *block_f32_new(const model *m, ah_err *e);
void block_f32_free(block_f32 *b);   // NULL-safe
// Converts layer `layer` into b. Rejects NaN/inf weights with the tensor name.
int block_f32_load(block_f32 *b, const model *m, int layer, ah_err *e);
// The same for a reader that never writes the weights (an evaluation): tensors stored as F32
// at a float-aligned address are read where they lie in the mapped checkpoint (checked for
// NaN/inf there), the others widened into b as by block_f32_load, but F16 / BF16 linears left
// where they lie where gemm_stored runs (stored[r], above). Saves the copy of an F32 checkpoint
// and the widening of an F16 one's linears (bench/README.md, "Evaluation"). The mapped pages
// stay resident until model_release_layer(m, layer), which the caller makes when it is done
// with the block.
int block_f32_view(block_f32 *b, const model *m, int layer, ah_err *e);
// After a view's forward: the error block_f32_load would have given for a NaN or infinity in
// a linear the view left as halves (stored[r]; the first in role and row order), else 0.
int block_f32_view_check(const block_f32 *b, ah_err *e);
// Role r of a view that left it as halves, as floats for a product gemm_stored cannot compute:
// widened into own[r] on the first call and checked (block_f32_view_check reports it); own[r].
const float *block_f32_as_floats(const block_f32 *b, int r);
// gemm_stored's scratch, and the NaN / infinity flag for role r (forward.c).
float *block_stored_scratch(const block_f32 *b);
void block_stored_flag(const block_f32 *b, int r);

// Widens any bound weight into out (numel floats); checks for NaN/inf.
int model_weight_f32(float *out, const model_weight *w, ah_err *e);
// The final norm's weight (dim floats) and its bias where the family has one (else *b = NULL),
// widened into buffers the caller frees (ah_free); checked for NaN/inf. -1 with e set and
// nothing allocated on failure.
int model_final_norm_f32(const model *m, float **w, float **b, ah_err *e);
size_t model_weight_numel(const model_weight *w);
// Rows [r0, r0 + nrows) of a bound weight widened into out (nrows * cols floats); checks too.
int model_weight_rows_f32(float *out, const model_weight *w, size_t r0, size_t nrows, ah_err *e);
// The same rows as fp32 for a reader that never writes them: where they lie in the mapped
// checkpoint when stored as F32 at a float-aligned address (no copy), else widened into buf
// (nrows * cols floats). Checked for NaN/inf either way; NULL with e set on failure.
const float *model_weight_rows_view(float *buf, const model_weight *w, size_t r0, size_t nrows,
                                    ah_err *e);
// Drops the resident pages of rows [r0, r0 + nrows) of a weight mapped from the checkpoint
// (st_release); the weight stays readable. A no-op for weights not in the model's mapping.
void model_release(const model *m, const model_weight *w, size_t r0, size_t nrows);
// model_release of every tensor of block `layer`, whole. A page fault maps more than the page
// it needs (the kernel's fault-around, and whole large folios of the page cache: 1.2 MiB of
// each TinyLlama down_proj stayed resident for good), so reading one tensor maps back pieces
// of its neighbours after they were released; block_f32_load and the export, the two readers
// of a block's stored tensors, call this when they are done with the block.
void model_release_layer(const model *m, int layer);

// Embedding row for token id (C floats), widened into out.
void model_embed_row(float *out, const model_weight *w, int id, int C);

// One-line description: "llama: 5 layers, C=64, H=8, G=4, F=172, V=512, max_seq=512".
void model_describe(const model *m, char *buf, size_t cap);

#endif
