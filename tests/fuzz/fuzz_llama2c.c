// fuzz_llama2c.c — the llama2.c checkpoint reader (harness/model/llama2c.c via model_load).
//
// Input: the bytes of one model.bin (7 x int32 header, then fp32 weights), loaded with
// model_load as the CLI does. On success every bound weight must lie inside the file and is
// widened with model_weight_f32 (ASan catches an offset that runs past the mapping).
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/model.h"

static void check_weight(const model *m, const model_weight *w) {
    if (!w->data) return;
    size_t numel = model_weight_numel(w);
    const char *lo = (const char *)m->map, *p = (const char *)w->data;
    FUZZ_CHECK(p >= lo && numel * sizeof(float) <= m->map_len &&
               (size_t)(p - lo) <= m->map_len - numel * sizeof(float));
    float *out = malloc((numel ? numel : 1) * sizeof *out);
    if (!out) abort();
    ah_err e = {{0}};
    (void)model_weight_f32(out, w, &e);   // non-finite values are an error, not a bug
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("model.bin", data, size);
    ah_err e = {{0}};
    model *m = model_load(path, &e);
    if (!m) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return 0;
    }
    const model_config *c = &m->cfg;
    FUZZ_CHECK(c->dim > 0 && c->n_heads > 0 && c->n_kv_heads > 0 && c->head_dim > 0);
    FUZZ_CHECK(c->n_heads * c->head_dim == c->dim && c->n_heads % c->n_kv_heads == 0);
    char desc[256];
    model_describe(m, desc, sizeof desc);
    for (int g = 0; g < G_COUNT; g++) check_weight(m, &m->global[g]);
    for (int l = 0; l < c->n_layers; l++)
        for (int r = 0; r < L_COUNT; r++) check_weight(m, model_lw(m, l, r));
    model_free(m);
    return 0;
}
