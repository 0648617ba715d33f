// fuzz_config_json.c — the HuggingFace config.json reader (harness/model/config.c, arch.c).
//
// Input: config.json text, parsed by model_config_parse as model_load does after reading the
// file. On success the dimensions the rest of the harness multiplies and divides by must be
// positive and consistent (that is what the validation promises).
#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_strdup(data, size);
    model_config c;
    ah_err e = {{0}};
    int rc = model_config_parse(&c, text, "fuzz/config.json", &e);
    free(text);
    if (rc) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(c.arch && c.arch->model_type);
    FUZZ_CHECK(c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.vocab_size > 0);
    FUZZ_CHECK(c.n_heads > 0 && c.n_kv_heads > 0 && c.n_heads % c.n_kv_heads == 0);
    FUZZ_CHECK(c.head_dim > 0 && c.max_seq > 0);
    FUZZ_CHECK(c.norm_eps > 0 && c.rope_theta >= 0);
    for (int w = 0; w < FWD_IN_COUNT; w++) FUZZ_CHECK(model_input_width(&c, (fwd_input)w) > 0);
    return 0;
}
