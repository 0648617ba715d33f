// overlap.c — calibration / evaluation overlap (overlap.h).
#include "experiment/overlap.h"

#include <stdlib.h>
#include <string.h>

// FNV-1a over the window's token ids, then a final mix: collisions between different windows
// of one text are negligible at 64 bits (a false "overlap" would need one in ~10^9 pairs).
static uint64_t window_hash(const int32_t *t) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < OVERLAP_TOKENS; i++) {
        uint32_t x = (uint32_t)t[i];
        for (int b = 0; b < 4; b++) {
            h ^= (x >> (8 * b)) & 0xffu;
            h *= 1099511628211ull;
        }
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int exp_ngrams_build(exp_ngrams *g, const int32_t *ids, size_t n, ah_err *e) {
    memset(g, 0, sizeof *g);
    if (n < OVERLAP_TOKENS) return 0;
    size_t k = n - OVERLAP_TOKENS + 1;
    if (!(g->h = malloc(k * sizeof *g->h))) return ah_fail(e, "out of memory (%zu windows)", k);
    for (size_t i = 0; i < k; i++) g->h[i] = window_hash(ids + i);
    qsort(g->h, k, sizeof *g->h, cmp_u64);
    g->n = k;
    return 0;
}

void exp_ngrams_free(exp_ngrams *g) {
    if (!g) return;
    free(g->h);
    memset(g, 0, sizeof *g);
}

int exp_overlap_count(const exp_ngrams *g, const calib_set *cs) {
    if (!g->n || cs->len < OVERLAP_TOKENS) return 0;
    int hits = 0;
    for (int s = 0; s < cs->n; s++) {
        const int32_t *seq = cs->tokens + (size_t)s * cs->len;
        for (int i = 0; i + OVERLAP_TOKENS <= cs->len; i++) {
            uint64_t h = window_hash(seq + i);
            if (bsearch(&h, g->h, g->n, sizeof h, cmp_u64)) {
                hits++;
                break;
            }
        }
    }
    return hits;
}
