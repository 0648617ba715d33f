// gemm_stored.c — a checkpoint's block linears two ways, on the mapped weights as an evaluation
// reads them: as an evaluation did before (F16 / BF16 widened to fp32 by ah_half_to_f32_stream,
// F32 scanned for NaN where it lies; then cblas_sgemm), against model/gemm_stored.h's GEMM from
// the stored values.
// Both get the same T random activation rows (no subnormals: they would slow both sides by
// 100x); each block's mapped pages are released after each side, so both read them afresh.
//
//   bench/gemm_stored --model DIR [--rows T] [--layers L] [--reps R] [--threads N]
//
// Defaults: 2048 rows, every block, 3 passes. Passes alternate (OpenBLAS side, gemm_stored side)
// so drift on a shared machine hits both alike. Prints one key=value line: the seconds of a pass
// (medians) for the widening or scan, the sgemm, their sum, and gemm_stored, and their ratio;
// whether the outputs were equal bit for bit (they must be wherever gemm_stored_usable says
// so); and how many linears gemm_stored may not compute (not timed on its side; 0 at real
// models' shapes). F32 checkpoints too: the evaluation does not use gemm_stored on them
// (model.c, stored_in_place, says why), this measures what it would gain.
// Build: make bench-tools (build/bench/gemm_stored).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/finite.h"
#include "core/half.h"
#include "core/quantile.h"
#include "model/gemm_stored.h"
#include "model/model.h"

void openblas_set_num_threads(int n);

int main(int argc, char **argv) {
    const char *dir = NULL;
    int T = 2048, layers = 0, reps = 3, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--rows")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--layers")) layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "gemm_stored: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!dir || T < 1 || reps < 1 || reps > 64 || threads < 1) {
        fprintf(stderr, "usage: gemm_stored --model DIR [--rows T] [--layers L] [--reps R] [--threads N]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    ah_err e = {{0}};
    model *m = ah_blas_select(&e) ? NULL : model_load(dir, &e);
    if (!m) {
        fprintf(stderr, "gemm_stored: %s\n", e.msg);
        return 1;
    }
    if (!gemm_stored_available()) {
        fprintf(stderr, "gemm_stored: the GEMM does not run here (OpenBLAS core %s, or no AVX-512F)\n",
                ah_blas_core());
        return 1;
    }
    static const arch_layer_role roles[] = {L_Q, L_K, L_V, L_O, L_GATE, L_UP, L_DOWN};
    enum { NR = sizeof roles / sizeof roles[0] };
    if (layers <= 0 || layers > m->cfg.n_layers) layers = m->cfg.n_layers;
    size_t maxw = 0, maxin = 0, maxout = 0;
    for (int i = 0; i < NR; i++) {
        const model_weight *w = model_lw(m, 0, roles[i]);
        if (w->dtype != ST_F32 && w->dtype != ST_F16 && w->dtype != ST_BF16) {
            fprintf(stderr, "gemm_stored: %s is not F32, F16 or BF16\n", w->name);
            return 1;
        }
        if (model_weight_numel(w) > maxw) maxw = model_weight_numel(w);
        if ((size_t)w->shape[1] > maxin) maxin = (size_t)w->shape[1];
        if ((size_t)w->shape[0] > maxout) maxout = (size_t)w->shape[0];
    }
    float *Wf = aligned_alloc(64, (maxw * sizeof(float) + 63) / 64 * 64),
          *x = malloc((size_t)T * maxin * sizeof(float)), *ya = malloc((size_t)T * maxout * sizeof(float)),
          *yb = malloc((size_t)T * maxout * sizeof(float)),
          *scratch = aligned_alloc(64, gemm_stored_scratch_floats(threads) * sizeof(float));
    if (!Wf || !x || !ya || !yb || !scratch) {
        fprintf(stderr, "gemm_stored: out of memory\n");
        return 1;
    }
    uint32_t s = 1;
    for (size_t i = 0; i < (size_t)T * maxin; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) * 0x1p-23f - 1.0f;
    }
    double widen[64], sgemm[64], sum[64], lin[64];
    int equal = 1, not_usable = 0;
    for (int r = 0; r < reps; r++) {
        widen[r] = sgemm[r] = lin[r] = 0;
        for (int l = 0; l < layers; l++)
            for (int i = 0; i < NR; i++) {
                const model_weight *w = model_lw(m, l, roles[i]);
                int O = (int)w->shape[0], In = (int)w->shape[1], f32 = w->dtype == ST_F32;
                gs_dtype dt = f32 ? GS_F32 : w->dtype == ST_BF16 ? GS_BF16 : GS_F16;
                const float *Wa = f32 ? w->data : Wf;   // safetensors: float-aligned
                double t0 = omp_get_wtime();
                if (f32) (void)ah_first_nonfinite_f32_par(Wa, (size_t)O * In);
                else ah_half_to_f32_stream(Wf, w->data, (size_t)O * In, dt == GS_BF16);
                double t1 = omp_get_wtime();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, O, In, 1.0f, x, In, Wa,
                            In, 0.0f, ya, O);
                double t2 = omp_get_wtime();
                model_release_layer(m, l);
                int usable = gemm_stored_usable(T, In, O);
                double t3 = omp_get_wtime();
                if (usable)
                    gemm_stored(yb, x, w->data, dt, T, In, O, 0, scratch);
                double t4 = omp_get_wtime();
                model_release_layer(m, l);
                not_usable += !usable && r == 0;
                if (usable && memcmp(ya, yb, (size_t)T * O * sizeof(float)) != 0) equal = 0;
                widen[r] += t1 - t0;
                sgemm[r] += t2 - t1;
                lin[r] += t4 - t3;
            }
        sum[r] = widen[r] + sgemm[r];
    }
    double mw = ah_quantile(widen, reps, 0.5), ms = ah_quantile(sgemm, reps, 0.5),
           mt = ah_quantile(sum, reps, 0.5), ml = ah_quantile(lin, reps, 0.5);
    printf("model=%s rows=%d layers=%d threads=%d reps=%d widen_s=%.3f sgemm_s=%.3f "
           "widen_sgemm_s=%.3f gemm_stored_s=%.3f ratio=%.3f bits_equal=%d not_usable=%d\n",
           dir, T, layers, threads, reps, mw, ms, mt, ml, mt / ml, equal, not_usable);
    free(Wf); free(x); free(ya); free(yb); free(scratch);
    model_free(m);
    return equal ? 0 : 1;
}
