// head_scan.c — the LM head in vocabulary chunks (head_scan.h).
#include "eval/head_scan.h"

#include "core/blas.h"
#include "core/mem.h"

int head_scan(const model *m, const head_block *blocks, size_t nblocks, head_fn fn, void *ctx,
              ah_err *e) {
    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    size_t C = (size_t)m->cfg.dim, V = (size_t)m->cfg.vocab_size;
    size_t VC = V < HEAD_VOCAB_CHUNK ? V : HEAD_VOCAB_CHUNK, R = 0;
    for (size_t b = 0; b < nblocks; b++) R = blocks[b].rows > R ? blocks[b].rows : R;
    if (R == 0) return 0;
    int rc = -1;
    float *head = ah_calloc(VC * C, sizeof(float), "LM head chunk", e);
    float *logits = ah_calloc(R * VC, sizeof(float), "logits", e);
    if (!head || !logits) goto out;
    for (size_t v0 = 0; v0 < V; v0 += VC) {
        size_t n = V - v0 < VC ? V - v0 : VC;
        // the chunk in place in the mapped file (F32) or widened into head (model.h)
        const float *h = model_weight_rows_view(head, hw, v0, n, e);
        if (!h) goto out;
        for (size_t b = 0; b < nblocks; b++) {
            if (blocks[b].rows == 0) continue;
            // logits (rows, n) = x (rows, C) @ head^T (C, n)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)blocks[b].rows, (int)n,
                        (int)C, 1.0f, blocks[b].x, (int)C, h, (int)C, 0.0f, logits, (int)n);
            if (fn(ctx, b, blocks[b].rows, logits, h, v0, n, e)) goto out;
        }
        model_release(m, hw, v0, n);
    }
    rc = 0;
out:
    ah_free(head);
    ah_free(logits);
    return rc;
}
