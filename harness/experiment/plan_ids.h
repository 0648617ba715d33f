// plan_ids.h — the run ids of a plan being built, hashed, so looking one up costs O(1) and
// planning n runs is linear (a scan of every earlier id made 100k runs take 22 s).
#ifndef AH_EXP_PLAN_IDS_H
#define AH_EXP_PLAN_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "experiment/sweep.h"

#define PLAN_ID_ABSENT (-1)
#define PLAN_ID_COUNTED (-2)   // an id only counted (past EXP_MAX_RUNS): no run holds it

typedef struct plan_ids {
    size_t cap;   // slots, a power of two (0 before the first add)
    size_t n;     // slots in use
    struct plan_slot {
        uint64_t hash;
        int run;   // index into the plan's runs, PLAN_ID_COUNTED, or PLAN_ID_ABSENT: empty
    } *slot;
} plan_ids;

uint64_t plan_id_hash(const char *id);   // FNV-1a, 64 bits
// The run holding id (>= 0; runs[run].id is compared, not only the hash), PLAN_ID_COUNTED
// when id was only counted (the hash decides: it only changes a count in an error), or
// PLAN_ID_ABSENT.
int plan_ids_find(const plan_ids *t, const char *id, uint64_t hash, const exp_run *runs);
// Adds an id not in t, held by run (or PLAN_ID_COUNTED). -1 when out of memory.
int plan_ids_add(plan_ids *t, uint64_t hash, int run);
void plan_ids_free(plan_ids *t);

#endif
