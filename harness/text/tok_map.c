// tok_map.c — the small open-addressing hash maps behind vocab, merge ranks and the word
// cache. Linear probing, load factor <= 1/2, no deletion (tokenizer tables only grow).
#include "text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

// FNV-1a, then a final mix so the low bits (used for the slot) depend on every byte.
static uint64_t hash_bytes(const char *k, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) { h ^= (unsigned char)k[i]; h *= 1099511628211ull; }
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

// ---------------------------------------------------------------------------------------------
// String map

static int smap_rehash(tok_smap *m, size_t cap) {
    int32_t *slot = malloc(cap * sizeof *slot);
    if (!slot) return -1;
    memset(slot, 0xff, cap * sizeof *slot);
    for (size_t i = 0; i < m->n; i++) {
        size_t s = m->ent[i].hash & (cap - 1);
        while (slot[s] >= 0) s = (s + 1) & (cap - 1);
        slot[s] = (int32_t)i;
    }
    free(m->slot);
    m->slot = slot;
    m->slot_cap = cap;
    return 0;
}

int32_t tok_smap_get(const tok_smap *m, const char *k, size_t len) {
    if (!m->slot_cap) return -1;
    uint64_t h = hash_bytes(k, len);
    for (size_t s = h & (m->slot_cap - 1);; s = (s + 1) & (m->slot_cap - 1)) {
        int32_t i = m->slot[s];
        if (i < 0) return -1;
        const struct tok_sent *en = &m->ent[i];
        if (en->hash == h && en->len == len && memcmp(m->arena + en->off, k, len) == 0)
            return en->val;
    }
}

int tok_smap_put(tok_smap *m, const char *k, size_t len, int32_t val) {
    if (len > UINT32_MAX || m->n >= INT32_MAX) return -1;
    if ((m->n + 1) * 2 > m->slot_cap && smap_rehash(m, m->slot_cap ? m->slot_cap * 2 : 64))
        return -1;
    uint64_t h = hash_bytes(k, len);
    size_t s = h & (m->slot_cap - 1);
    for (; m->slot[s] >= 0; s = (s + 1) & (m->slot_cap - 1)) {
        const struct tok_sent *en = &m->ent[m->slot[s]];
        if (en->hash == h && en->len == len && memcmp(m->arena + en->off, k, len) == 0) return 1;
    }
    if (m->n == m->ent_cap) {
        size_t nc = m->ent_cap ? m->ent_cap * 2 : 64;
        void *p = realloc(m->ent, nc * sizeof *m->ent);
        if (!p) return -1;
        m->ent = p;
        m->ent_cap = nc;
    }
    if (m->arena_len + len + 1 > m->arena_cap) {
        size_t nc = m->arena_cap ? m->arena_cap : 4096;
        while (nc < m->arena_len + len + 1) nc *= 2;
        char *p = realloc(m->arena, nc);
        if (!p) return -1;
        m->arena = p;
        m->arena_cap = nc;
    }
    memcpy(m->arena + m->arena_len, k, len);
    m->arena[m->arena_len + len] = 0;
    m->ent[m->n] = (struct tok_sent){h, m->arena_len, (uint32_t)len, val};
    m->arena_len += len + 1;
    m->slot[s] = (int32_t)m->n++;
    return 0;
}

void tok_smap_free(tok_smap *m) {
    if (!m) return;
    free(m->arena);
    free(m->ent);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------------------------
// Pair map

static int pmap_rehash(tok_pmap *m, size_t cap) {
    uint64_t *key = malloc(cap * sizeof *key);
    int32_t *rank = malloc(cap * sizeof *rank), *id = malloc(cap * sizeof *id);
    if (!key || !rank || !id) { free(key); free(rank); free(id); return -1; }
    memset(key, 0xff, cap * sizeof *key);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->key[i] == UINT64_MAX) continue;
        size_t s = hash_u64(m->key[i]) & (cap - 1);
        while (key[s] != UINT64_MAX) s = (s + 1) & (cap - 1);
        key[s] = m->key[i]; rank[s] = m->rank[i]; id[s] = m->id[i];
    }
    free(m->key); free(m->rank); free(m->id);
    m->key = key; m->rank = rank; m->id = id; m->cap = cap;
    return 0;
}

static uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

int tok_pmap_put(tok_pmap *m, int32_t a, int32_t b, int32_t rank, int32_t id) {
    if ((m->n + 1) * 2 > m->cap && pmap_rehash(m, m->cap ? m->cap * 2 : 1024)) return -1;
    uint64_t k = pair_key(a, b);
    size_t s = hash_u64(k) & (m->cap - 1);
    for (; m->key[s] != UINT64_MAX; s = (s + 1) & (m->cap - 1))
        if (m->key[s] == k) { m->rank[s] = rank; m->id[s] = id; return 1; }
    m->key[s] = k; m->rank[s] = rank; m->id[s] = id;
    m->n++;
    return 0;
}

int tok_pmap_get(const tok_pmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *id) {
    if (!m->cap) return 0;
    uint64_t k = pair_key(a, b);
    for (size_t s = hash_u64(k) & (m->cap - 1); m->key[s] != UINT64_MAX; s = (s + 1) & (m->cap - 1))
        if (m->key[s] == k) { *rank = m->rank[s]; *id = m->id[s]; return 1; }
    return 0;
}

void tok_pmap_free(tok_pmap *m) {
    if (!m) return;
    free(m->key); free(m->rank); free(m->id);
    memset(m, 0, sizeof *m);
}

int tok_ids_push(tok_ids *a, int32_t id) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 256;
        int32_t *p = realloc(a->v, nc * sizeof *p);
        if (!p) return -1;
        a->v = p;
        a->cap = nc;
    }
    a->v[a->n++] = id;
    return 0;
}
