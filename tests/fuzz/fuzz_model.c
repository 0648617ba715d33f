// fuzz_model.c — loading a HuggingFace checkpoint and widening its weights (harness/model/
// config.c, model.c binding and widening, io/safetensors.c, core/half.c), as eval does.
//
// Input: config.json, a NUL byte, then model.safetensors (no NUL: config.json alone), written
// to the private directory and loaded with model_load. On success every bound weight is the
// safetensors tensor of its name (bytes = elements x dtype size), every layer is widened into
// one block (block_f32_load: F16 / BF16 / F32 at whatever alignment the header length gives),
// the final norm and LM head too, and the first and last embedding rows (model_embed_row).
// Non-finite weights are an error the harness reports, not a bug.
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/model.h"

// The weight is the tensor of its name in the checkpoint, with the same bytes.
static void check_bound(const model *m, const model_weight *w) {
    if (!w->data) return;
    const st_tensor *t = st_find(m->st, w->name);
    FUZZ_CHECK(t && t->data == w->data && t->dtype == w->dtype);
    FUZZ_CHECK(model_weight_numel(w) * st_dtype_size(w->dtype) == t->nbytes);
}

static void widen_global(const model_weight *w) {
    if (!w->data) return;
    float *out = malloc(model_weight_numel(w) * sizeof *out + 1);
    if (!out) abort();
    ah_err e = {{0}};
    (void)model_weight_f32(out, w, &e);
    free(out);
}

static void widen_all(const model *m) {
    const model_config *c = &m->cfg;
    ah_err e = {{0}};
    block_f32 *b = block_f32_new(m, &e);
    FUZZ_CHECK(b != NULL);   // sized by tensors that lie inside the input
    for (int l = 0; l < c->n_layers; l++) {
        for (int r = 0; r < L_COUNT; r++) check_bound(m, model_lw(m, l, r));
        (void)block_f32_load(b, m, l, &e);
    }
    block_f32_free(b);
    for (int g = 0; g < G_COUNT; g++) {
        check_bound(m, &m->global[g]);
        if (g != G_EMBED) widen_global(&m->global[g]);
    }
    float *row = malloc((size_t)c->dim * sizeof *row);
    if (!row) abort();
    model_embed_row(row, &m->global[G_EMBED], 0, c->dim);
    model_embed_row(row, &m->global[G_EMBED], c->vocab_size - 1, c->dim);
    free(row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[2];
    size_t len[2];
    int n = fuzz_split(data, size, 2, part, len);
    fuzz_write_file("config.json", part[0], len[0]);
    fuzz_write_file("model.safetensors", n > 1 ? part[1] : NULL, n > 1 ? len[1] : 0);
    ah_err e = {{0}};
    model *m = model_load(fuzz_dir(), &e);
    if (!m) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return 0;
    }
    const model_config *c = &m->cfg;
    FUZZ_CHECK(m->st && c->dim > 0 && c->n_layers > 0 && c->vocab_size > 0 && c->head_dim > 0);
    FUZZ_CHECK(m->global[G_EMBED].data != NULL);
    widen_all(m);
    model_free(m);
    return 0;
}
