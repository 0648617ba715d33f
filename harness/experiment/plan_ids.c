// plan_ids.c — open addressing with linear probing, at most half full (plan_ids.h).
#include "experiment/plan_ids.h"

#include <stdlib.h>
#include <string.h>

uint64_t plan_id_hash(const char *id) {
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *s = (const unsigned char *)id; *s; s++) h = (h ^ *s) * 1099511628211ull;
    return h;
}

int plan_ids_find(const plan_ids *t, const char *id, uint64_t hash, const exp_run *runs) {
    for (size_t i = t->cap ? hash & (t->cap - 1) : 0; t->cap; i = (i + 1) & (t->cap - 1)) {
        const struct plan_slot *s = &t->slot[i];
        if (s->run == PLAN_ID_ABSENT) break;
        if (s->hash == hash && (s->run == PLAN_ID_COUNTED || !strcmp(runs[s->run].id, id)))
            return s->run;
    }
    return PLAN_ID_ABSENT;
}

static void put(struct plan_slot *slot, size_t cap, uint64_t hash, int run) {
    size_t i = hash & (cap - 1);
    while (slot[i].run != PLAN_ID_ABSENT) i = (i + 1) & (cap - 1);
    slot[i].hash = hash;
    slot[i].run = run;
}

static int grow(plan_ids *t) {
    size_t cap = t->cap ? 2 * t->cap : 1024;
    struct plan_slot *slot = malloc(cap * sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; i < cap; i++) slot[i].run = PLAN_ID_ABSENT;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].run != PLAN_ID_ABSENT) put(slot, cap, t->slot[i].hash, t->slot[i].run);
    free(t->slot);
    t->slot = slot;
    t->cap = cap;
    return 0;
}

int plan_ids_add(plan_ids *t, uint64_t hash, int run) {
    if (2 * (t->n + 1) > t->cap && grow(t)) return -1;
    put(t->slot, t->cap, hash, run);
    t->n++;
    return 0;
}

void plan_ids_free(plan_ids *t) {
    if (!t) return;
    free(t->slot);
    memset(t, 0, sizeof *t);
}
