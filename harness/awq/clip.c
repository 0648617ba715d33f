// clip.c — AWQ's clip search: per (output row, quant group), the clamp threshold that best
// keeps the group's partial dot products with the calibration inputs (docs/AWQ.md, step 4).
//
// Dims: W (rows, cols), X (R, cols) clip rows (inputs already divided by the AWQ scales),
// g = group width, G = groups per row. The error of row i of a group at shrink step k is
//   err_i = mean over r of (X_G Q(clamp(W_G, t_k))^T - X_G W_G^T)[r, i]^2
//         = dW_i Gx dW_i^T / R,   dW = Q(clamp(W_G, t_k)) - W_G (rows, g),  Gx = X_G^T X_G (g, g),
// in float64 (the fp32 values widened exactly; fp32 sums in different orders flip near-ties
// between implementations). The Gram form costs rows g^2 per step instead of the direct
// form's R rows g (R = 512 clip rows, g = 128: a quarter), and needs no cancellation of two
// large partial outputs; equal thresholds' candidates give bit-equal errors, as before.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "awq/awq.h"
#include "core/blas.h"

#define CLIP_STEPS 10    // shrink 1 - k/20, k = 0..9: 1.00 .. 0.55
#define CLIP_GRID 20

void awq_clip_linear(float *W, float *t, int rows, int cols, const float *X, int R,
                     const quant_cfg *q) {
    int gs = q->group > 0 ? q->group : cols;
    size_t G = quant_groups((size_t)cols, q->group);
    float *Wg = malloc((size_t)rows * gs * sizeof(float));     // (rows, g) contiguous
    float *Wq = malloc((size_t)rows * gs * sizeof(float));
    double *dW = malloc((size_t)rows * gs * sizeof(double));   // Wq - Wg
    double *M = malloc((size_t)rows * gs * sizeof(double));    // dW Gx
    double *Xd = malloc((size_t)R * cols * sizeof(double));    // X widened
    double *Gx = malloc((size_t)gs * gs * sizeof(double));
    float *mx = malloc((size_t)rows * sizeof(float)), *best_t = malloc((size_t)rows * sizeof(float));
    double *best = malloc((size_t)rows * sizeof(double));
    if (!Wg || !Wq || !dW || !M || !Xd || !Gx || !mx || !best_t || !best)
        goto done;   // out of memory: leave W unclipped
    for (size_t i = 0; i < (size_t)R * cols; i++) Xd[i] = X[i];
    quant_cfg row_q = *q;
    row_q.group = -1;   // each (rows, g) row is exactly one quant group

    for (size_t gi = 0; gi < G; gi++) {
        int j0 = (int)gi * gs, w = cols - j0 < gs ? cols - j0 : gs;
        for (int i = 0; i < rows; i++) {
            float m = 0.0f;
            for (int j = 0; j < w; j++) {
                float v = W[(size_t)i * cols + j0 + j];
                Wg[(size_t)i * w + j] = v;
                m = fabsf(v) > m ? fabsf(v) : m;
            }
            mx[i] = m;
            best[i] = INFINITY;
            best_t[i] = m;
        }
        // Gx (w, w), upper triangle = X[:, G]^T (w, R) @ X[:, G] (R, w)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, w, R, 1.0, Xd + j0, cols, 0.0, Gx, w);
        for (int k = 0; k < CLIP_STEPS; k++) {
            for (int i = 0; i < rows; i++) {
                float th = mx[i] * (1.0f - (float)k / CLIP_GRID);
                for (int j = 0; j < w; j++) {
                    float v = Wg[(size_t)i * w + j];
                    Wq[(size_t)i * w + j] = v > th ? th : (v < -th ? -th : v);
                }
            }
            quant_fake(Wq, (size_t)rows, (size_t)w, &row_q);
            for (size_t i = 0; i < (size_t)rows * w; i++) dW[i] = (double)Wq[i] - (double)Wg[i];
            // M (rows, w) = dW (rows, w) @ Gx (w, w), Gx symmetric
            cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, rows, w, 1.0, Gx, w, dW, w, 0.0, M, w);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < rows; i++) {
                const double *mi = M + (size_t)i * w, *di = dW + (size_t)i * w;
                double err = 0.0;
                for (int j = 0; j < w; j++) err += mi[j] * di[j];
                err /= R;
                if (err < best[i]) {   // strict: ties keep the larger threshold
                    best[i] = err;
                    best_t[i] = mx[i] * (1.0f - (float)k / CLIP_GRID);
                }
            }
        }
        for (int i = 0; i < rows; i++) t[(size_t)i * G + gi] = best_t[i];
    }
    // Groups are disjoint columns, so clamping after the search equals clamping as it goes.
    awq_clamp_linear(W, t, rows, cols, q->group);
done:
    free(Wg); free(Wq); free(dW); free(M); free(Xd); free(Gx); free(mx); free(best_t); free(best);
}

void awq_clamp_linear(float *W, const float *t, int rows, int cols, int group) {
    int gs = group > 0 ? group : cols;
    size_t G = quant_groups((size_t)cols, group);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float th = t[(size_t)i * G + (size_t)(j / gs)];
            float *v = &W[(size_t)i * cols + j];
            *v = *v > th ? th : (*v < -th ? -th : *v);
        }
}
