// test_forward.c — the C forward pass against the PyTorch reference (tools/ref_model.py) on
// every committed fixture: logits of the first positions of window 0 must match
// ref_logits.safetensors (written by tools/make-fixtures) within fp32 tolerance.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "core/blas.h"
#include "core/mem.h"
#include "core/vecmax.h"
#include "io/safetensors.h"
#include "model/attend.h"
#include "model/attend_block.h"
#include "model/forward.h"
#include "model/gemm_stored.h"
#include "model/model.h"
#include "testutil.h"

#define SEQ 64   // the fixtures' window length (expected.json "seqlen")

// Reads the first n whitespace-separated ids of a file.
static int32_t *read_ids(const char *path, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    int32_t *ids = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%d", &ids[i]) != 1) {
            free(ids);
            ids = NULL;
            break;
        }
    fclose(f);
    return ids;
}

// Runs window 0 of the fixture through every block and returns logits (rows, V).
static float *run_window(const model *m, const int32_t *tokens, int rows) {
    ah_err e = {{0}};
    const model_config *c = &m->cfg;
    fwd_state *s = fwd_state_new(c, SEQ, 1, &e);
    block_f32 *b = block_f32_new(m, &e);
    float *x = calloc((size_t)SEQ * c->dim, sizeof(float));
    assert_non_null(s);
    assert_non_null(b);
    fwd_embed(x, m, tokens, SEQ);
    for (int l = 0; l < c->n_layers; l++) {
        assert_int_equal(block_f32_load(b, m, l, &e), 0);
        fwd_block(x, s, b, c, SEQ, 1);
    }
    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    float *head = calloc(model_weight_numel(hw), sizeof(float));
    float *nw = calloc(c->dim, sizeof(float)), *nb = NULL;
    assert_int_equal(model_weight_f32(head, hw, &e), 0);
    assert_int_equal(model_weight_f32(nw, &m->global[G_FINAL_NORM], &e), 0);
    if (m->global[G_FINAL_NORM_B].data) {
        nb = calloc(c->dim, sizeof(float));
        assert_int_equal(model_weight_f32(nb, &m->global[G_FINAL_NORM_B], &e), 0);
    }
    float *out = calloc((size_t)rows * c->vocab_size, sizeof(float));
    fwd_logits(out, x, s, c, head, nw, nb, SEQ, rows);
    free(head); free(nw); free(nb); free(x);
    block_f32_free(b);
    fwd_state_free(s);
    return out;
}

static void check_fixture(const char *name, const char *model_file) {
    char dir[256], mpath[512], ids_path[512], ref_path[512];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
    snprintf(mpath, sizeof mpath, "%s%s%s", dir, model_file ? "/" : "", model_file ? model_file : "");
    snprintf(ids_path, sizeof ids_path, "%s/ids.txt", dir);
    snprintf(ref_path, sizeof ref_path, "%s/ref_logits.safetensors", dir);
    ah_err e = {{0}};
    model *m = model_load(mpath, &e);
    if (!m) fail_msg("%s: %s", name, e.msg);
    st_set *ref = st_open(ref_path, &e);
    if (!ref) fail_msg("%s: %s", name, e.msg);
    const st_tensor *t = st_find(ref, "logits");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[1], m->cfg.vocab_size);
    int rows = (int)t->shape[0];
    int32_t *ids = read_ids(ids_path, SEQ);
    assert_non_null(ids);
    float *got = run_window(m, ids, rows);
    float *want = calloc(t->numel, sizeof(float));
    assert_int_equal(st_to_f32(want, t, &e), 0);
    // fp32 vs fp32 with different summation orders: logits of O(1..10) agree to ~1e-5.
    int rc = check_tensor(name, got, want, t->numel, 2e-4, 1e-4);
    free(got); free(want); free(ids);
    st_close(ref);
    model_free(m);
    assert_int_equal(rc, 0);
}

// fwd_sum8_rows equals the scalar serial sum bit for bit, at every length 0..70 (the 8-column
// tiles and the scalar tail), with a row stride wider than the rows, on values whose sums
// round at every step (a reordered sum would differ).
static void test_sum8_rows(void **st) {
    (void)st;
    enum { LD = 77 };
    float m[8 * LD];
    unsigned x = 12345u;
    for (int i = 0; i < 8 * LD; i++) {
        x = x * 1103515245u + 12345u;
        m[i] = (float)((x >> 8) & 0xffff) / 4096.0f * (i % 3 ? 1e-3f : 1.0f) + (i % 7) * 1e3f;
    }
    for (int n = 0; n <= 70; n++) {
        float got[8];
        fwd_sum8_rows(got, m, LD, n);
        for (int r = 0; r < 8; r++) {
            float want = 0.0f;
            for (int j = 0; j < n; j++) want += m[r * LD + j];
            if (memcmp(&want, &got[r], sizeof want) != 0)
                fail_msg("n=%d row %d: %.9g, serial sum %.9g", n, r, got[r], want);
        }
    }
}

// attend_row (the AVX2 path where the CPU has it and D % 8 == 0) and attend_row_portable both
// equal a double-precision softmax-weighted sum within float rounding, for head sizes with and
// without a 64-column block, key counts around the 8-key step, and rows ld floats apart (a
// cache row holds every head). Large score spreads make the softmax peaked, so a wrong max or
// scale shows; a key or value from the wrong row shows as a mismatch in out.
static void test_attend_row(void **st) {
    (void)st;
    enum { NMAX = 137, DMAX = 136, LD = 3 * DMAX + 5 };
    static float K[NMAX * LD], V[NMAX * LD], q[DMAX], S[NMAX], got[DMAX], ref[DMAX];
    unsigned x = 777u;
    for (int i = 0; i < NMAX * LD; i++) {
        x = x * 1103515245u + 12345u;
        K[i] = ((float)((x >> 9) & 0xffff) / 32768.0f - 1.0f);
        x = x * 1103515245u + 12345u;
        V[i] = ((float)((x >> 9) & 0xffff) / 32768.0f - 1.0f) * 3.0f;
    }
    const int Ds[] = {8, 24, 64, 72, 128, 136, 12}, Ns[] = {1, 7, 8, 9, 16, 63, 137};
    for (size_t a = 0; a < sizeof Ds / sizeof *Ds; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++) {
            int D = Ds[a], n = Ns[b];
            for (int d = 0; d < D; d++) q[d] = (float)((d * 37) % 11) * 0.5f - 2.0f;
            const float *k0 = K + DMAX, *v0 = V + 2 * DMAX;   // a head inside each cache row
            double w[NMAX], mx = -1e300, sum = 0.0;
            for (int j = 0; j < n; j++) {
                double dot = 0.0;
                for (int d = 0; d < D; d++) dot += (double)q[d] * k0[(size_t)j * LD + d];
                w[j] = dot / sqrt((double)D);
                mx = w[j] > mx ? w[j] : mx;
            }
            for (int j = 0; j < n; j++) sum += (w[j] = exp(w[j] - mx));
            for (int d = 0; d < D; d++) {
                double o = 0.0;
                for (int j = 0; j < n; j++) o += w[j] / sum * v0[(size_t)j * LD + d];
                ref[d] = (float)o;
            }
            char name[64];
            float scale = 1.0f / sqrtf((float)D);
            attend_row(got, q, k0, v0, LD, n, D, scale, S);
            snprintf(name, sizeof name, "attend_row D=%d n=%d", D, n);
            assert_int_equal(check_tensor(name, got, ref, (size_t)D, 1e-5, 1e-4), 0);
            attend_row_portable(got, q, k0, v0, LD, n, D, scale, S);
            snprintf(name, sizeof name, "attend_row_portable D=%d n=%d", D, n);
            assert_int_equal(check_tensor(name, got, ref, (size_t)D, 1e-5, 1e-4), 0);
        }
}

// block_f32_view gives the forward the values block_f32_load copies, layer by layer: read in
// place (w[r] outside b's own storage) for the F32 tensors of an aligned checkpoint, left as
// the stored halves for F16 linears where gemm_stored.h's GEMM runs (stored[r]; widened on
// demand by block_f32_as_floats), widened into own[r] for the others; then a load after a view
// writes b's own storage again.
static void check_view(const char *path, int want_in_place) {
    ah_err e = {{0}};
    model *m = model_load(path, &e);
    if (!m) fail_msg("%s: %s", path, e.msg);
    block_f32 *v = block_f32_new(m, &e), *l = block_f32_new(m, &e);
    assert_non_null(v);
    assert_non_null(l);
    int in_place = 0;
    for (int layer = 0; layer < m->cfg.n_layers; layer++) {
        assert_int_equal(block_f32_view(v, m, layer, &e), 0);
        assert_int_equal(block_f32_load(l, m, layer, &e), 0);
        for (int r = 0; r < L_COUNT; r++) {
            if (!l->w[r]) continue;
            assert_non_null(v->w[r]);
            in_place += v->w[r] != v->own[r] || v->stored[r];
            const float *got = v->stored[r] ? block_f32_as_floats(v, r) : v->w[r];
            assert_memory_equal(got, l->w[r], l->numel[r] * sizeof(float));
            assert_null(l->stored[r]);
        }
        assert_int_equal(block_f32_view_check(v, &e), 0);
        model_release_layer(m, layer);
    }
    assert_int_equal(in_place > 0, want_in_place);
    assert_int_equal(block_f32_load(v, m, 0, &e), 0);   // back to its own storage
    for (int r = 0; r < L_COUNT; r++) assert_ptr_equal(v->w[r], v->own[r]);
    block_f32_free(v);
    block_f32_free(l);
    model_free(m);
}

static void test_block_view(void **st) {
    (void)st;
    check_view("tests/fixtures/llama-gqa", 1);        // F32 safetensors
    check_view("tests/fixtures/llama2c/model.bin", 1);   // F32 llama2.c
    // F16: linears left as halves where gemm_stored runs, else widened
    check_view("tests/fixtures/llama-mha-f16", gemm_stored_available());
}

// Rows [r0, T) of each window of fwd_block_rows's output are fwd_block's, bit for bit (r0 =
// first rounded down to the attention's 128-row blocks), and the rows before r0 are as they
// came; with r0 = 0 it is fwd_block. Where OpenBLAS's kernel sums a row by its place in the
// GEMM (ah_blas_rows_independent() = 0: Haswell, Zen) fwd_block_rows computes every row, so
// all rows are fwd_block's. Two windows of T tokens (384: three row blocks) through the
// fixture's layers, the last one both ways. Where rows are independent the second window is also
// run alone (B = 1): the batch gives it the same floats (the GEMMs' row count does not change a
// row's sums; on Haswell it holds only where T is a multiple of the kernel's 12-row panel). The layers
// before the last also run with AH_ATTEND_BLOCK=0: attend_block.h's kernels (full row blocks;
// a 300-token window's 44-row tail stays on OpenBLAS) give the same bits as OpenBLAS's calls.
static void check_block_rows(const char *name, int T, int first, int r0) {
    enum { B = 2 };
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s", name);
    ah_err e = {{0}};
    model *m = model_load(path, &e);
    if (!m) fail_msg("%s: %s", name, e.msg);
    const model_config *c = &m->cfg;
    size_t C = (size_t)c->dim, n = (size_t)B * T * C;
    fwd_state *s = fwd_state_new(c, T, B, &e);
    block_f32 *b = block_f32_new(m, &e);
    float *x = calloc(n, sizeof(float)), *y = calloc(n, sizeof(float)), *in = calloc(n, sizeof(float));
    int32_t *tokens = calloc((size_t)T, sizeof *tokens);
    assert_non_null(s);
    assert_non_null(b);
    for (int w = 0; w < B; w++) {
        for (int t = 0; t < T; t++) tokens[t] = (int32_t)((t * 37 + w * 101 + 5) % c->vocab_size);
        fwd_embed(x + (size_t)w * T * C, m, tokens, T);
    }
    block_f32 *v = block_f32_new(m, &e);
    assert_non_null(v);
    for (int l = 0; l < c->n_layers - 1; l++) {
        assert_int_equal(block_f32_load(b, m, l, &e), 0);
        memcpy(y, x, n * sizeof(float));
        memcpy(in, x, n * sizeof(float));
        fwd_block(x, s, b, c, T, B);
        setenv("AH_ATTEND_BLOCK", "0", 1);   // the attention's products all by OpenBLAS
        fwd_block(y, s, b, c, T, B);
        unsetenv("AH_ATTEND_BLOCK");
        assert_memory_equal(x, y, n * sizeof(float));
        // a view: F16 linears by gemm_stored.h's GEMM from the stored halves, the same bits
        assert_int_equal(block_f32_view(v, m, l, &e), 0);
        fwd_block(in, s, v, c, T, B);
        assert_int_equal(block_f32_view_check(v, &e), 0);
        assert_memory_equal(x, in, n * sizeof(float));
    }
    block_f32_free(v);
    memcpy(y, x, n * sizeof(float));
    memcpy(in, x, n * sizeof(float));
    assert_int_equal(block_f32_load(b, m, c->n_layers - 1, &e), 0);
    fwd_block(x, s, b, c, T, B);
    fwd_block_rows(y, s, b, c, T, B, first);
    float *alone = calloc((size_t)T * C, sizeof(float));   // window 1 by itself
    fwd_embed(alone, m, tokens, T);                         // tokens still hold window 1's
    for (int l = 0; l < c->n_layers; l++) {
        assert_int_equal(block_f32_load(b, m, l, &e), 0);
        fwd_block(alone, s, b, c, T, 1);
    }
    int independent = ah_blas_rows_independent();
    if (independent) assert_memory_equal(alone, x + (size_t)T * C, (size_t)T * C * sizeof(float));
    free(alone);
    for (int w = 0; w < B; w++) {
        size_t w0 = (size_t)w * T * C;
        assert_memory_equal(y + w0 + (size_t)r0 * C, x + w0 + (size_t)r0 * C,
                            (size_t)(T - r0) * C * sizeof(float));
        // rows before r0: as they came where the block ran on the rows from r0 only
        assert_memory_equal(y + w0, r0 && independent ? in + w0 : x + w0, (size_t)r0 * C * sizeof(float));
        if (r0) assert_memory_not_equal(x + w0 + (size_t)r0 * C, in + w0 + (size_t)r0 * C, C * sizeof(float));
    }
    free(x); free(y); free(in); free(tokens);
    block_f32_free(b);
    fwd_state_free(s);
    model_free(m);
}

static void test_block_rows(void **st) {
    (void)st;
    check_block_rows("llama-gqa", 384, 192, 128);       // F32, grouped-query attention
    check_block_rows("llama-gqa", 384, 256, 256);       // the last row block alone
    check_block_rows("qwen2", 384, 300, 256);           // q/k/v biases
    check_block_rows("llama-mha-f16", 384, 192, 128);   // F16, widened
    check_block_rows("llama-gqa", 384, 100, 0);         // under one row block: the whole block
    check_block_rows("llama-gqa", 300, 290, 0);         // 44 rows would remain: the whole block
}

// attend_block's kernels give cblas_sgemm's bits, called as forward.c's attention calls it,
// over every row block of a 2048-token window (attend_block_first_difference): past the
// first-use check's 1024 keys, so the K blocks of 448 and the halves after them are checked
// again; head sizes 64 and 128 (SmolLM2 and TinyLlama, Llama-2-7B), 16 (the fixtures) and 24
// (three 8-wide panels: on the Haswell kernel the last panel's split moves to the 12-row
// calls' last six rows). Where the kernels do not run (another OpenBLAS core, or an OpenBLAS
// whose order differs) it says so; where their order was read off (OpenBLAS's SkylakeX core
// with AVX-512 and D a multiple of 16; its Haswell or Zen core with AVX2 and D a multiple of
// 8), the check finding a difference is a failure.
static void check_attend_block(int D, int nthreads) {
    if (!attend_block_usable(D, nthreads)) {
        const char *core = ah_blas_core();
        int derived_here =
            (__builtin_cpu_supports("avx512f") && !strcasecmp(core, "SkylakeX") && D % 16 == 0) ||
            (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && D % 8 == 0 &&
             (!strcasecmp(core, "Haswell") || !strcasecmp(core, "Zen")));
        if (derived_here) fail_msg("D=%d: attend_block does not match OpenBLAS on its %s core", D, core);
        print_message("attend_block D=%d: not used here (OpenBLAS core %s): the attention keeps "
                      "cblas_sgemm\n", D, ah_blas_core());
        return;
    }
    int bad = attend_block_first_difference(D, nthreads, 2048);
    assert_int_not_equal(bad, -2);   // out of memory
    if (bad >= 0) fail_msg("attend_block D=%d threads=%d: row block %d differs from cblas_sgemm", D, nthreads, bad);
}

// ah_blas_rows_independent's answer for the kernel sets read: SkylakeX sums each output along
// K alone (1); the Haswell kernel, which Zen shares, sums by the row's place (0). Switches to
// Haswell (every machine here runs AVX2) and back, so the answer is asked per kernel set.
static void test_rows_independent(void **st) {
    (void)st;
    char was[64];
    snprintf(was, sizeof was, "%s", ah_blas_core());
    int here = ah_blas_rows_independent();
    if (!strcasecmp(was, "SkylakeX")) assert_int_equal(here, 1);
    if (!strcasecmp(was, "Haswell") || !strcasecmp(was, "Zen")) assert_int_equal(here, 0);
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
    ah_err e = {{0}};
    setenv("AH_BLAS_CORE", "Haswell", 1);
    assert_int_equal(ah_blas_select(&e), 0);
    assert_string_equal(ah_blas_core(), "Haswell");
    assert_int_equal(ah_blas_rows_independent(), 0);
    setenv("AH_BLAS_CORE", was, 1);   // back to the set the other tests ran with
    assert_int_equal(ah_blas_select(&e), 0);
    unsetenv("AH_BLAS_CORE");
    assert_int_equal(ah_blas_rows_independent(), here);
}

static void test_attend_block(void **st) {
    (void)st;
    check_attend_block(64, 2);
    check_attend_block(128, 2);
    check_attend_block(16, 2);
    check_attend_block(24, 2);
    check_attend_block(64, 1);
}

static void test_llama_gqa(void **st) { (void)st; check_fixture("llama-gqa", NULL); }
static void test_llama_mha_f16(void **st) { (void)st; check_fixture("llama-mha-f16", NULL); }
static void test_qwen2(void **st) { (void)st; check_fixture("qwen2", NULL); }
static void test_opt(void **st) { (void)st; check_fixture("opt", NULL); }
static void test_llama2c(void **st) { (void)st; check_fixture("llama2c", "model.bin"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_gqa), cmocka_unit_test(test_llama_mha_f16),
        cmocka_unit_test(test_qwen2),     cmocka_unit_test(test_opt),
        cmocka_unit_test(test_llama2c),   cmocka_unit_test(test_sum8_rows),
        cmocka_unit_test(test_attend_row), cmocka_unit_test(test_block_view),
        cmocka_unit_test(test_block_rows), cmocka_unit_test(test_attend_block),
        cmocka_unit_test(test_rows_independent),
    };
    return cmocka_run_group_tests_name("forward", tests, NULL, NULL);
}
