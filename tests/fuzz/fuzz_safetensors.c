// fuzz_safetensors.c — the safetensors reader (harness/io/safetensors.c) on arbitrary files.
//
// Input: the bytes of one .safetensors file (8-byte length, JSON header, data buffer), opened
// with st_open as model_load does. On success every tensor is looked up by name and every
// float tensor widened with st_to_f32, so a header whose offsets escape the file would be
// read out of bounds here (ASan) rather than only later in a real run.
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("model.safetensors", data, size);
    ah_err e = {{0}};
    st_set *s = st_open(path, &e);
    if (!s) {
        FUZZ_CHECK(e.msg[0] != '\0');   // a failure always says why
        return 0;
    }
    for (size_t i = 0; i < st_count(s); i++) {
        const st_tensor *t = st_at(s, i);
        FUZZ_CHECK(t && t->name && st_find(s, t->name) == t);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS);
        FUZZ_CHECK(t->nbytes == t->numel * st_dtype_size(t->dtype));
        // The data lies inside the input: nbytes <= size, so this allocation is bounded.
        FUZZ_CHECK(t->nbytes <= size);
        if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) continue;
        float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
        if (!out) abort();
        FUZZ_CHECK(st_to_f32(out, t, &e) == 0);
        free(out);
    }
    FUZZ_CHECK(st_find(s, "no such tensor \x01") == NULL);
    st_close(s);
    return 0;
}
