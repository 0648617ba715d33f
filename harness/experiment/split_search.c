// split_search.c — an AWQ search split into block ranges, and the join (split_search.h).
#include "experiment/split_search.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/progress.h"
#include "experiment/awq_cache.h"
#include "experiment/data_axes.h"
#include "experiment/inputs.h"
#include "experiment/keys.h"
#include "method/pass.h"
#include "store/store.h"

void exp_search_range(int n_layers, int i, int k, int *l0, int *l1) {
    *l0 = (int)((long)i * n_layers / k);
    *l1 = (int)((long)(i + 1) * n_layers / k);
}

// The distinct AWQ searches of a plan: the first run of each key.
typedef struct {
    int n;
    int *run;            // [n] plan index of a run with that search
    char (*key)[65];     // [n]
} search_list;

static void search_list_free(search_list *l) {
    free(l->run);
    free(l->key);
}

static int list_searches(search_list *l, const exp_config *c, const exp_plan *plan,
                         exp_inputs *s, ah_err *e) {
    memset(l, 0, sizeof *l);
    l->run = calloc((size_t)plan->n + 1, sizeof *l->run);
    l->key = calloc((size_t)plan->n + 1, sizeof *l->key);
    if (!l->run || !l->key) return ah_fail(e, "out of memory");
    for (int i = 0; i < plan->n; i++) {
        const method_cfg *mc = &plan->runs[i].mc;
        if (!method_uses_awq(mc->kind)) continue;
        char key[65];
        if (exp_inputs_use_calib(s, c, mc, e)) return -1;   // its own calibration sample
        exp_awq_key(mc, s->model_hash, s->calib_hash, key);
        int seen = 0;
        for (int j = 0; j < l->n && !seen; j++) seen = strcmp(l->key[j], key) == 0;
        if (seen) continue;
        memcpy(l->key[l->n], key, sizeof key);
        l->run[l->n++] = i;
    }
    return 0;
}

static int make_dir(const char *p, ah_err *e) {
    if (mkdir(p, 0777) && errno != EEXIST) return ah_fail(e, "%s: cannot create: %s", p, strerror(errno));
    return 0;
}

static int load_inputs(exp_inputs *s, search_list *l, const exp_config *c, const exp_plan *plan,
                       int quiet, ah_err *e) {
    char dir[EXP_PATH_MAX + 32];
    memset(s, 0, sizeof *s);
    memset(l, 0, sizeof *l);
    // The inputs of a sweep (data_axes.h) are loaded one at a time by the runner; a split
    // search loads the experiment's one model and data, so it refuses them rather than hash
    // another input's runs against this one.
    for (int k = 0; k < EXP_IN_COUNT; k++)
        if (c->inputs[k].n)
            return ah_fail(e, "%s: [sweep] %s: a split AWQ search takes an experiment with one "
                              "model and one data set; write one INI per input for it",
                           c->source, EXP_INPUT_AXES[k].key);
    // [export] formats that store 16-bit scales change the search (it runs with the rounded
    // scales) and its key; the split search does not apply them (export_step.h needs the model
    // per run), so its entries would never be used: refused, not searched in vain.
    if (c->n_exports)
        return ah_fail(e, "%s: [export]: a split AWQ search does not take an experiment with "
                          "exports yet; let `run` search (or submit without --split-search)",
                       c->source);
    if (make_dir(c->cache_dir, e)) return -1;
    snprintf(dir, sizeof dir, "%s/awq", c->cache_dir);
    if (make_dir(dir, e)) return -1;
    snprintf(dir, sizeof dir, "%s/awq/parts", c->cache_dir);
    if (make_dir(dir, e)) return -1;
    store_clean_stale(dir);
    int awq = 0;   // what can be said from the plan alone, before the model is loaded
    for (int i = 0; i < plan->n; i++) {
        const method_cfg *mc = &plan->runs[i].mc;
        if (method_uses_awq(mc->kind) && mc->propagate_quantized)
            return ah_fail(e, "%s: run %s: an AWQ search with propagate = quantized cannot be "
                              "split into block ranges (each block's search depends on the "
                              "quantized blocks before it); use propagate = fp", c->source,
                           plan->runs[i].id);
        awq |= method_uses_awq(mc->kind);
    }
    if (!awq)
        return ah_fail(e, "%s: no run of the plan searches AWQ scales: nothing to split",
                       c->source);
    if (exp_inputs_load(s, c, plan, quiet, e)) return -1;
    return list_searches(l, c, plan, s, e);
}

// Searches blocks [l0, l1) of the search of run r into res (res[l] for l in range). bar:
// one unit per block, the FP forward of the blocks before l0 included (a 7B model's search
// spends minutes in one block: the bar's heartbeat keeps a batch log alive meanwhile).
static int search_range(awq_block_result *res, const exp_inputs *s, const exp_run *r, int l0,
                        int l1, const char *tag, ah_progress *bar, int quiet, ah_err *e) {
    const model *m = s->m;
    qpass *qp = qpass_new(m, &r->mc, &s->cs, e);
    block_f32 *b = qp ? block_f32_new(m, e) : NULL;
    int rc = -1;
    if (!b) goto done;
    double t0 = ah_now();
    int lines = !quiet && !isatty(STDERR_FILENO);
    for (int l = 0; l < l1; l++) {
        char stage[200];
        snprintf(stage, sizeof stage, "%s block %d/%d (%s)", tag, l + 1, m->cfg.n_layers,
                 l < l0 ? "FP forward" : "search");
        ah_progress_step(bar, l ? 1 : 0, stage);
        if (block_f32_load(b, m, l, e)) goto done;
        if (l < l0) {   // the FP forward up to the range: the same hidden states, not captured
            calib_advance(qp->run, b);
            if (lines && l == l0 - 1)   // what splitting costs: every part redoes it
                fprintf(stderr, "search %s: FP forward of blocks [0, %d) in %.1f s\n", tag, l0,
                        ah_now() - t0);
            continue;
        }
        // calibration capture, the search, the quantization (unused here) of block l
        if (qpass_block(qp, l, b, e)) goto done;
        res[l] = qp->awq[l];                    // moved: qpass_free must not free it
        memset(&qp->awq[l], 0, sizeof qp->awq[l]);
        if (lines)
            fprintf(stderr, "search %s: block %d of [%d, %d) searched, %.1f s elapsed\n", tag,
                    l, l0, l1, ah_now() - t0);
    }
    ah_progress_step(bar, 1, "saving");
    rc = 0;
done:
    block_f32_free(b);
    qpass_free(qp);
    return rc;
}

int exp_search_blocks(const exp_config *c, const exp_plan *plan, int l0, int l1, int k_parts,
                      int quiet, ah_err *e) {
    exp_inputs s;
    search_list l;
    awq_block_result *res = NULL;
    int rc = -1;
    if (load_inputs(&s, &l, c, plan, quiet, e)) goto out;
    int L = s.m->cfg.n_layers;
    if (k_parts > 0) {
        if (k_parts > L) {
            ah_fail(e, "%d parts of a search of %d blocks: at most one part per block", k_parts, L);
            goto out;
        }
        exp_search_range(L, l0, k_parts, &l0, &l1);
    }
    if (l1 < 0) l1 = L;
    if (l0 < 0 || l1 > L || l0 >= l1) {
        ah_fail(e, "blocks %d:%d are not a range of the model's %d blocks (0 <= FIRST < END <= %d)",
                l0, l1, L, L);
        goto out;
    }
    if (!(res = calloc((size_t)L, sizeof *res))) {
        ah_fail(e, "out of memory");
        goto out;
    }
    for (int i = 0; i < l.n; i++) {
        char full[EXP_PATH_MAX + 128], part[EXP_PATH_MAX + 160], tag[32];
        snprintf(full, sizeof full, "%s/awq/%s.h5", c->cache_dir, l.key[i]);
        snprintf(part, sizeof part, "%s/awq/parts/%s.blocks-%d-%d.h5", c->cache_dir, l.key[i], l0, l1);
        snprintf(tag, sizeof tag, "%.12s", l.key[i]);
        if (access(full, F_OK) == 0 || access(part, F_OK) == 0) {
            if (!quiet)
                fprintf(stderr, "search %s (%s): blocks [%d, %d) already %s\n", tag,
                        plan->runs[l.run[i]].id, l0, l1,
                        access(full, F_OK) == 0 ? "in the joined cache entry" : "searched");
            continue;
        }
        if (!quiet)
            fprintf(stderr, "search %s (as run %s): blocks [%d, %d) of %d\n", tag,
                    plan->runs[l.run[i]].id, l0, l1, L);
        ah_progress bar;
        ah_progress_start(&bar, "search", l1, quiet);
        ah_progress_heartbeat(&bar);
        int bad = exp_inputs_use_calib(&s, c, &plan->runs[l.run[i]].mc, e) ||
                  search_range(res, &s, &plan->runs[l.run[i]], l0, l1, tag, &bar, quiet, e);
        ah_progress_end(&bar);
        bad = bad || awq_cache_save_part(part, l.key[i], s.m, res, l0, l1, e);
        for (int j = l0; j < l1; j++) awq_result_free(&res[j]);
        memset(res, 0, (size_t)L * sizeof *res);
        if (bad) goto out;
        if (!quiet) fprintf(stderr, "search %s: saved %s\n", tag, part);
    }
    rc = 0;
out:
    free(res);
    search_list_free(&l);
    exp_inputs_free(&s);
    return rc;
}

// ---- join -----------------------------------------------------------------------------------

typedef struct {
    int a, b;
    char name[256];
} part_file;

static int cmp_part(const void *x, const void *y) {
    const part_file *p = x, *q = y;
    return p->a != q->a ? (p->a < q->a ? -1 : 1) : (p->b > q->b ? -1 : p->b < q->b);
}

// The part files of key in dir, sorted by first block (longest first).
static int list_parts(const char *dir, const char *key, part_file **out, int *n, ah_err *e) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ah_fail(e, "%s: cannot read: %s", dir, strerror(errno));
    int cap = 0;
    struct dirent *de;
    size_t kl = strlen(key);
    while ((de = readdir(d))) {
        int a, b, used = 0;
        if (strncmp(de->d_name, key, kl) || strlen(de->d_name) >= sizeof (*out)->name) continue;
        if (sscanf(de->d_name + kl, ".blocks-%d-%d.h5%n", &a, &b, &used) != 2 ||
            de->d_name[kl + (size_t)used] != '\0')
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            part_file *p = realloc(*out, (size_t)cap * sizeof *p);
            if (!p) {
                closedir(d);
                return ah_fail(e, "out of memory");
            }
            *out = p;
        }
        (*out)[*n].a = a;
        (*out)[*n].b = b;
        snprintf((*out)[*n].name, sizeof (*out)[*n].name, "%s", de->d_name);
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_part);
    return 0;
}

// Joins the parts of one key: a chain of parts from block 0 to L, taken in order.
static int join_one(const exp_config *c, const model *m, const char *key, const char *id,
                    int quiet, ah_err *e) {
    char dir[EXP_PATH_MAX + 32], full[EXP_PATH_MAX + 128], path[EXP_PATH_MAX + 300];
    snprintf(dir, sizeof dir, "%s/awq/parts", c->cache_dir);
    snprintf(full, sizeof full, "%s/awq/%s.h5", c->cache_dir, key);
    if (access(full, F_OK) == 0) {
        if (!quiet) fprintf(stderr, "join %.12s (%s): already joined in %s\n", key, id, full);
        return 0;
    }
    int L = m->cfg.n_layers, n = 0, rc = -1, pos = 0, used = 0;
    part_file *parts = NULL;
    awq_block_result *res = calloc((size_t)L, sizeof *res);
    int *chain = calloc((size_t)L + 1, sizeof *chain);
    if (!res || !chain) {
        ah_fail(e, "out of memory");
        goto out;
    }
    if (list_parts(dir, key, &parts, &n, e)) goto out;
    for (int i = 0; i < n && pos < L; i++) {
        if (parts[i].a != pos) continue;   // (sorted: the longest part starting here comes first)
        int a, b;
        snprintf(path, sizeof path, "%s/%s", dir, parts[i].name);
        if (awq_cache_load_part(path, key, m, res, &a, &b, e)) goto out;
        if (a != parts[i].a || b != parts[i].b) {
            ah_fail(e, "%s: holds blocks [%d, %d), its name says [%d, %d)", path, a, b,
                    parts[i].a, parts[i].b);
            goto out;
        }
        chain[used++] = i;
        pos = b;
    }
    if (pos < L) {
        int gap_end = L;   // up to the next part that exists
        for (int i = 0; i < n; i++)
            if (parts[i].a > pos && parts[i].a < gap_end) gap_end = parts[i].a;
        ah_fail(e, "AWQ search %.12s... (run %s): blocks %d to %d have no part in %s (search "
                   "them with `awq-harness search EXPERIMENT.ini --blocks %d:%d`)", key, id, pos,
                gap_end - 1, dir, pos, gap_end);
        goto out;
    }
    if (awq_cache_save(full, key, m, res, e)) goto out;
    for (int i = 0; i < used; i++) {   // joined: the parts are no longer needed
        snprintf(path, sizeof path, "%s/%s", dir, parts[chain[i]].name);
        unlink(path);
    }
    if (!quiet) fprintf(stderr, "join %.12s (%s): %d parts -> %s\n", key, id, used, full);
    rc = 0;
out:
    for (int l = 0; res && l < L; l++) awq_result_free(&res[l]);
    free(res);
    free(chain);
    free(parts);
    return rc;
}

int exp_search_join(const exp_config *c, const exp_plan *plan, int quiet, ah_err *e) {
    exp_inputs s;
    search_list l;
    int rc = load_inputs(&s, &l, c, plan, quiet, e);
    for (int i = 0; rc == 0 && i < l.n; i++)
        rc = join_one(c, s.m, l.key[i], plan->runs[l.run[i]].id, quiet, e);
    search_list_free(&l);
    exp_inputs_free(&s);
    return rc;
}
