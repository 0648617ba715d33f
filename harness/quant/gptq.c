// gptq.c — GPTQ for one linear (contract: gptq.h; algorithm: docs/GPTQ.md).
//
// Dims legend: R = rows (output channels), C = cols (input channels), B = block_size,
// g = group size (g = -1: one group per row), G = quant_groups(C, g).
// Precision: H, H^-1's Cholesky factor U, the working weights and the errors are double; each
// weight is rounded to fp32 just before it is quantized (quant.h's fp32 formulas), and the
// quantized value fed back is the fp32 w_hat, so codes and w_hat match the other methods'.
#include "quant/gptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"

void gptq_defaults(gptq_cfg *g) {
    g->damp = GPTQ_DEFAULT_DAMP;
    g->block_size = GPTQ_DEFAULT_BLOCK;
    g->act_order = 0;
}

int gptq_cfg_check(const gptq_cfg *g, ah_err *e) {
    if (!(g->damp > 0.0 && g->damp <= 1e3))
        return ah_fail(e, "damp %g: want a relative dampening in (0, 1000]", g->damp);
    if (g->block_size < 1 || g->block_size > (1 << 20))
        return ah_fail(e, "block size %d: want 1..%d", g->block_size, 1 << 20);
    if (g->act_order != 0 && g->act_order != 1)
        return ah_fail(e, "act_order %d: want 0 or 1", g->act_order);
    return 0;
}

// Descending diag order, ties by index (a stable sort): perm[k] = original column of position k.
static const double *g_sort_diag;
static int cmp_desc(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    double di = g_sort_diag[i], dj = g_sort_diag[j];
    if (di > dj) return -1;
    if (di < dj) return 1;
    return (i > j) - (i < j);
}

// (scale, zero) of row values Wrow[c0 .. c0 + n) rounded to fp32.
static void params_from(float *s, float *z, const double *Wrow, size_t n, const quant_cfg *q,
                        float *tmp) {
    for (size_t k = 0; k < n; k++) tmp[k] = (float)Wrow[k];
    quant_group_params(s, z, tmp, n, q);
}

int gptq_quantize(float *W, int rows, int cols, const double *H, const quant_cfg *q,
                  const gptq_cfg *g, uint8_t *codes, float *scale, float *zero, gptq_info *info,
                  ah_err *e) {
    gptq_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (quant_cfg_check(q, e) || gptq_cfg_check(g, e)) return -1;
    if (rows < 1 || cols < 1) return ah_fail(e, "gptq: empty matrix (%d x %d)", rows, cols);
    const size_t R = (size_t)rows, C = (size_t)cols;
    const size_t G = quant_groups(C, q->group), gl = q->group == QUANT_GROUP_ROW ? C : (size_t)q->group;
    const float maxq = (float)((1 << q->bits) - 1);
    for (size_t k = 0; k < C * C; k++)
        if (!isfinite(H[k])) return ah_fail(e, "gptq: the Hessian holds NaN/inf");
    for (size_t k = 0; k < R * C; k++)
        if (!isfinite(W[k])) return ah_fail(e, "gptq: the weights hold NaN/inf");

    int rc = -1;
    double *Wd = malloc(R * C * sizeof *Wd);       // (R, C) working weights, permuted order
    double *Hp = malloc(C * C * sizeof *Hp);       // (C, C) H after dead fix, permuted
    double *U = malloc(C * C * sizeof *U);         // (C, C) upper Cholesky factor of H^-1
    double *dg = malloc(C * sizeof *dg);
    int *perm = malloc(C * sizeof *perm);
    float *sc = malloc(R * G * sizeof *sc), *zr = malloc(R * G * sizeof *zr);   // (R, G)
    float *Qv = malloc(R * C * sizeof *Qv);        // (R, C) w_hat, original order
    uint8_t *Qc = malloc(R * C);                   // (R, C) codes, original order
    size_t B = (size_t)g->block_size < C ? (size_t)g->block_size : C;
    double *Err = malloc(R * B * sizeof *Err);     // (R, B) scaled errors of one block
    double *W1 = malloc(R * B * sizeof *W1);       // (R, B) the block's columns, updated in place
    if (!Wd || !Hp || !U || !dg || !perm || !sc || !zr || !Qv || !Qc || !Err || !W1) {
        ah_fail(e, "out of memory (gptq, %d x %d)", rows, cols);
        goto done;
    }

    // Whole-row parameters come from W as given (the reference finds them before the dead fix).
    if (q->group == QUANT_GROUP_ROW)
        for (size_t r = 0; r < R; r++) quant_group_params(&sc[r], &zr[r], W + r * C, C, q);

    // 1. dead inputs: H_ii = 1, W[:, i] = 0.
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++) Wd[r * C + c] = W[r * C + c];
    for (size_t i = 0; i < C; i++) {
        dg[i] = H[i * C + i];
        if (dg[i] == 0.0) {
            dg[i] = 1.0;
            info->dead++;
            for (size_t r = 0; r < R; r++) Wd[r * C + i] = 0.0;
        }
    }
    // 2. static groups (act_order): every group's parameters from W before any update.
    if (g->act_order && q->group > 0) {
        float *tmp = malloc(gl * sizeof *tmp);
        if (!tmp) {
            ah_fail(e, "out of memory (gptq)");
            goto done;
        }
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < G; j++) {
                size_t c0 = j * gl, n = C - c0 < gl ? C - c0 : gl;
                params_from(&sc[r * G + j], &zr[r * G + j], Wd + r * C + c0, n, q, tmp);
            }
        free(tmp);
    }
    for (size_t i = 0; i < C; i++) perm[i] = (int)i;
    if (g->act_order) {
        g_sort_diag = dg;
        qsort(perm, C, sizeof *perm, cmp_desc);
        g_sort_diag = NULL;
        double *row = malloc(C * sizeof *row);   // W's columns permuted row by row
        if (!row) {
            ah_fail(e, "out of memory (gptq)");
            goto done;
        }
        for (size_t r = 0; r < R; r++) {
            for (size_t k = 0; k < C; k++) row[k] = Wd[r * C + (size_t)perm[k]];
            memcpy(Wd + r * C, row, C * sizeof *row);
        }
        free(row);
    }
    for (size_t a = 0; a < C; a++)
        for (size_t b = 0; b < C; b++) {
            size_t pa = (size_t)perm[a], pb = (size_t)perm[b];
            Hp[a * C + b] = pa == pb ? dg[pa] : H[pa * C + pb];
        }

    // 3. dampening and the Cholesky factor of H^-1; retried with 10x the damping.
    double mean = 0.0;
    for (size_t i = 0; i < C; i++) mean += Hp[i * C + i];
    mean /= (double)C;
    double damp = g->damp;
    int ok = 0;
    for (int t = 0; t <= GPTQ_MAX_RETRIES; t++, damp *= 10.0) {
        memcpy(U, Hp, C * C * sizeof *U);
        for (size_t i = 0; i < C; i++) U[i * C + i] += damp * mean;
        if (gptq_inverse_cholesky_upper(U, cols) == 0) {
            ok = 1;
            break;
        }
        info->retries++;
    }
    if (!ok) {
        ah_fail(e, "gptq: the Hessian (%d x %d) is not positive definite even with damp %g",
                cols, cols, damp / 10.0);
        goto done;
    }
    info->damp_used = damp;

    // 4. blocks of B columns with error feedback.
    for (size_t i1 = 0; i1 < C; i1 += B) {
        size_t i2 = i1 + B < C ? i1 + B : C, nb = i2 - i1;
        int fail = 0;
#pragma omp parallel for schedule(static) reduction(| : fail) if (R * nb * nb >= ((size_t)1 << 16))
        for (size_t r = 0; r < R; r++) {
            double *w1 = W1 + r * nb, *err = Err + r * nb;
            const double *wrow = Wd + r * C;
            float tmp[256], *big = NULL;
            float s = 0.0f, z = 0.0f;
            if (q->group == QUANT_GROUP_ROW) {
                s = sc[r];
                z = zr[r];
            } else if (!g->act_order && i1 % gl != 0) {   // a group begun in an earlier block
                size_t j = i1 / gl;
                s = sc[r * G + j];
                z = zr[r * G + j];
            }
            memcpy(w1, wrow + i1, nb * sizeof *w1);
            for (size_t i = 0; i < nb; i++) {
                size_t col = i1 + i, orig = (size_t)perm[col];
                if (q->group > 0 && g->act_order) {
                    size_t j = orig / gl;
                    s = sc[r * G + j];
                    z = zr[r * G + j];
                } else if (q->group > 0 && col % gl == 0) {
                    // The group's parameters from the weights as the last block update left
                    // them (the reference reads W, not the block's running copy).
                    size_t j = col / gl, n = C - col < gl ? C - col : gl;
                    float *buf = tmp;
                    if (n > 256) {
                        if (!big) big = malloc(gl * sizeof *big);
                        if (!big) {
                            fail = 1;
                            break;
                        }
                        buf = big;
                    }
                    params_from(&s, &z, wrow + col, n, q, buf);
                    sc[r * G + j] = s;
                    zr[r * G + j] = z;
                }
                float wf = (float)w1[i];
                float c = quant_code1(wf, s, z, maxq);
                float qv = (c - z) * s;
                Qv[r * C + orig] = qv;
                Qc[r * C + orig] = (uint8_t)c;
                double ev = (w1[i] - (double)qv) / U[col * C + col];
                err[i] = ev;
                const double *u = U + col * C;
                for (size_t k = i + 1; k < nb; k++) w1[k] -= ev * u[i1 + k];
            }
            free(big);
        }
        if (fail) {
            ah_fail(e, "out of memory (gptq)");
            goto done;
        }
        // Lazy batch update of the later columns: Wd[:, i2:] -= Err (R, nb) @ U[i1:i2, i2:].
        if (i2 < C)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, (int)(C - i2), (int)nb,
                        -1.0, Err, (int)nb, U + i1 * C + i2, cols, 1.0, Wd + i2, cols);
    }
    for (size_t k = 0; k < R * C; k++)
        if (!isfinite(Qv[k])) {
            ah_fail(e, "gptq: a quantized weight is not finite");
            goto done;
        }
    memcpy(W, Qv, R * C * sizeof *W);
    if (codes) memcpy(codes, Qc, R * C);
    if (scale) memcpy(scale, sc, R * G * sizeof *sc);
    if (zero) memcpy(zero, zr, R * G * sizeof *zr);
    rc = 0;
done:
    free(Wd);
    free(Hp);
    free(U);
    free(dg);
    free(perm);
    free(sc);
    free(zr);
    free(Qv);
    free(Qc);
    free(Err);
    free(W1);
    return rc;
}
