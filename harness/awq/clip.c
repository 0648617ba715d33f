// clip.c — AWQ's clip search: per (output row, quant group), the clamp threshold that best
// keeps the group's partial dot products with the calibration inputs (docs/AWQ.md, step 4).
//
// Dims: W (rows, cols), X (R, cols) clip rows (inputs already divided by the AWQ scales),
// g = group width, G = groups per row. For each group the partial outputs
// org (R, rows) = X_G @ W_G^T and, per shrink step k, cand = X_G @ Q(clamp(W_G, t_k))^T come
// from GEMMs in float64 (the fp32 values widened exactly; fp32 sums in different orders flip
// near-ties between implementations); the error per row is mean over R of (cand - org)^2.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "awq/awq.h"
#include "core/blas.h"

#define CLIP_STEPS 10    // shrink 1 - k/20, k = 0..9: 1.00 .. 0.55
#define CLIP_GRID 20
#define CLIP_COLS 64     // output rows per task of the error reduction

void awq_clip_linear(float *W, float *t, int rows, int cols, const float *X, int R,
                     const quant_cfg *q) {
    int gs = q->group > 0 ? q->group : cols;
    size_t G = quant_groups((size_t)cols, q->group);
    float *Wg = malloc((size_t)rows * gs * sizeof(float));     // (rows, g) contiguous
    float *Wq = malloc((size_t)rows * gs * sizeof(float));
    double *Wd = malloc((size_t)rows * gs * sizeof(double));   // Wg or Wq widened
    double *Xd = malloc((size_t)R * cols * sizeof(double));    // X widened
    double *org = malloc((size_t)R * rows * sizeof(double));   // (R, rows)
    double *cand = malloc((size_t)R * rows * sizeof(double));
    float *mx = malloc((size_t)rows * sizeof(float)), *best_t = malloc((size_t)rows * sizeof(float));
    double *best = malloc((size_t)rows * sizeof(double));
    if (!Wg || !Wq || !Wd || !Xd || !org || !cand || !mx || !best_t || !best)
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
        // org (R, rows) = X[:, G] (R, w) @ Wg^T (w, rows)
        for (size_t i = 0; i < (size_t)rows * w; i++) Wd[i] = Wg[i];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, rows, w, 1.0, Xd + j0, cols, Wd,
                    w, 0.0, org, rows);
        for (int k = 0; k < CLIP_STEPS; k++) {
            for (int i = 0; i < rows; i++) {
                float th = mx[i] * (1.0f - (float)k / CLIP_GRID);
                for (int j = 0; j < w; j++) {
                    float v = Wg[(size_t)i * w + j];
                    Wq[(size_t)i * w + j] = v > th ? th : (v < -th ? -th : v);
                }
            }
            quant_fake(Wq, (size_t)rows, (size_t)w, &row_q);
            for (size_t i = 0; i < (size_t)rows * w; i++) Wd[i] = Wq[i];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, rows, w, 1.0, Xd + j0, cols,
                        Wd, w, 0.0, cand, rows);
            // Per row i: err = mean over r of (cand - org)^2, summed over r in order (as a
            // loop over r per row would), but walking the (R, rows) arrays row by row: blocks
            // of CLIP_COLS rows per task, contiguous and vectorisable.
#pragma omp parallel for schedule(static)
            for (int i0 = 0; i0 < rows; i0 += CLIP_COLS) {
                int n = rows - i0 < CLIP_COLS ? rows - i0 : CLIP_COLS;
                double err[CLIP_COLS] = {0};
                for (int r = 0; r < R; r++) {
                    const double *cr = cand + (size_t)r * rows + i0, *orr = org + (size_t)r * rows + i0;
#pragma omp simd
                    for (int i = 0; i < n; i++) {
                        double d = cr[i] - orr[i];
                        err[i] += d * d;
                    }
                }
                for (int i = 0; i < n; i++) {
                    double e = err[i] / R;
                    if (e < best[i0 + i]) {   // strict: ties keep the larger threshold
                        best[i0 + i] = e;
                        best_t[i0 + i] = mx[i0 + i] * (1.0f - (float)k / CLIP_GRID);
                    }
                }
            }
        }
        for (int i = 0; i < rows; i++) t[(size_t)i * G + gi] = best_t[i];
    }
    // Groups are disjoint columns, so clamping after the search equals clamping as it goes.
    awq_clamp_linear(W, t, rows, cols, q->group);
done:
    free(Wg); free(Wq); free(Wd); free(Xd); free(org); free(cand); free(mx); free(best_t);
    free(best);
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
