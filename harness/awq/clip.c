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
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "awq/awq.h"
#include "core/blas.h"

#define CLIP_STEPS 10    // shrink 1 - k/20, k = 0..9: 1.00 .. 0.55
#define CLIP_GRID 20

// One thread's scratch for the search of one group (rows, g).
typedef struct {
    float *Wg, *Wq;      // (rows, g) the group's weights, and their clamped + quantized copy
    double *dW, *M;      // (rows, g) Wq - Wg, and dW Gx
    double *Gx;          // (g, g)
    float *mx, *best_t;  // (rows) max |w| of each row's group, the best threshold so far
    double *best;        // (rows) its error
} clip_ws;

static void ws_free(clip_ws *w) {
    free(w->Wg); free(w->Wq); free(w->dW); free(w->M); free(w->Gx);
    free(w->mx); free(w->best_t); free(w->best);
}

static int ws_alloc(clip_ws *w, int rows, int gs) {
    memset(w, 0, sizeof *w);
    size_t n = (size_t)rows * gs;
    w->Wg = malloc(n * sizeof(float));
    w->Wq = malloc(n * sizeof(float));
    w->dW = malloc(n * sizeof(double));
    w->M = malloc(n * sizeof(double));
    w->Gx = malloc((size_t)gs * gs * sizeof(double));
    w->mx = malloc((size_t)rows * sizeof(float));
    w->best_t = malloc((size_t)rows * sizeof(float));
    w->best = malloc((size_t)rows * sizeof(double));
    return w->Wg && w->Wq && w->dW && w->M && w->Gx && w->mx && w->best_t && w->best ? 0 : -1;
}

// The search of quant group gi (columns j0 .. j0 + w) of every row: t[:, gi] <- thresholds.
// row_q quantizes a (rows, w) matrix one row = one group. Xd (R, cols) the clip inputs in
// float64. The same calls in the same order whichever thread runs it (BLAS inside a parallel
// region runs on the calling thread alone), so the thresholds do not depend on the threads.
static void clip_group(const float *W, float *t, int rows, int cols, size_t G, size_t gi, int gs,
                       const double *Xd, int R, const quant_cfg *row_q, clip_ws *ws) {
    int j0 = (int)gi * gs, w = cols - j0 < gs ? cols - j0 : gs;
    float *Wg = ws->Wg, *Wq = ws->Wq, *mx = ws->mx, *best_t = ws->best_t;
    double *dW = ws->dW, *M = ws->M, *Gx = ws->Gx, *best = ws->best;
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
        quant_fake(Wq, (size_t)rows, (size_t)w, row_q);
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

void awq_clip_linear(float *W, float *t, int rows, int cols, const float *X, int R,
                     const quant_cfg *q) {
    int gs = q->group > 0 ? q->group : cols;
    size_t G = quant_groups((size_t)cols, q->group);
    // Groups are independent: with two or more, the threads take whole groups (each with its
    // own scratch; the BLAS calls inside run single-threaded); with one (per-row groups), the
    // group's own loops and BLAS calls use the threads. Measured on OPT-125m shapes: the clip
    // took 0.92 s on 1 thread and 0.91 s on 2 before.
    int nt = omp_get_max_threads();
    int nws = G >= 2 && nt > 1 ? (int)(G < (size_t)nt ? G : (size_t)nt) : 1;
    clip_ws ws[nws];
    int ok = 1;
    for (int i = 0; i < nws; i++) ok &= ws_alloc(&ws[i], rows, gs) == 0;
    double *Xd = malloc((size_t)R * cols * sizeof(double));   // X widened
    if (!ok || !Xd) goto done;   // out of memory: leave W unclipped
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < (size_t)R * cols; i++) Xd[i] = X[i];
    quant_cfg row_q = *q;
    row_q.group = -1;   // each (rows, g) row is exactly one quant group
    if (nws > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nws)
        for (size_t gi = 0; gi < G; gi++)
            clip_group(W, t, rows, cols, G, gi, gs, Xd, R, &row_q, &ws[omp_get_thread_num()]);
    } else {
        for (size_t gi = 0; gi < G; gi++) clip_group(W, t, rows, cols, G, gi, gs, Xd, R, &row_q, &ws[0]);
    }
    // Groups are disjoint columns, so clamping after the search equals clamping as it goes.
    awq_clamp_linear(W, t, rows, cols, q->group);
done:
    for (int i = 0; i < nws; i++) ws_free(&ws[i]);
    free(Xd);
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
