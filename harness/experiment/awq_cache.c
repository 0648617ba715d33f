// awq_cache.c — saving and loading AWQ search results (awq_cache.h).
#include "experiment/awq_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awq/fold.h"
#include "method/method.h"
#include "store/store.h"

// Layers [l0, l1) of res into the open writer w.
static int save_layers(store_run_writer *w, const model *m, const awq_block_result *res, int l0,
                       int l1, ah_err *e) {
    const model_config *c = &m->cfg;
    const arch_desc *ad = c->arch;
    char g[128];
    for (int l = l0; l < l1; l++) {
        const awq_block_result *r = &res[l];
        for (int gi = 0; gi < ad->n_groups; gi++) {
            const awq_group_result *gr = &r->group[gi];
            snprintf(g, sizeof g, "layers/%d/%s", l, ad->groups[gi].name);
            if (store_run_attr_int(w, g, "applied", gr->applied, e)) return -1;
            if (gi == 0 && store_run_attr_real(w, g, "seconds", r->seconds, e)) return -1;
            if (!gr->applied) continue;
            size_t wd = (size_t)gr->width, na = (size_t)gr->n_alpha;
            if (store_run_attr_int(w, g, "width", gr->width, e) ||
                store_run_attr_real(w, g, "alpha", gr->alpha, e) ||
                store_run_attr_int(w, g, "n_alpha", gr->n_alpha, e) ||
                store_run_f32(w, g, "scales", gr->scales, 1, &wd, e))
                return -1;
            if (na && (store_run_f32(w, g, "alphas", gr->alphas, 1, &na, e) ||
                       store_run_f64(w, g, "loss", gr->loss, 1, &na, e)))
                return -1;
            if ((gr->x_mean && store_run_f32(w, g, "x_mean", gr->x_mean, 1, &wd, e)) ||
                (gr->x_max && store_run_f32(w, g, "x_max", gr->x_max, 1, &wd, e)) ||
                (gr->x_p99 && store_run_f32(w, g, "x_p99", gr->x_p99, 1, &wd, e)))
                return -1;
        }
        for (int role = 0; role < L_COUNT; role++) {
            if (!r->clip[role]) continue;
            int I = model_input_width(c, (fwd_input)arch_role_input((arch_layer_role)role));
            size_t dims[2] = {(size_t)(model_weight_numel(model_lw(m, l, (arch_layer_role)role)) / (size_t)I),
                              (size_t)r->clip_groups[role]};
            snprintf(g, sizeof g, "layers/%d/clip", l);
            if (store_run_f32(w, g, arch_layer_role_name((arch_layer_role)role), r->clip[role], 2,
                              dims, e))
                return -1;
        }
    }
    return 0;
}

int awq_cache_save(const char *path, const char *key, const model *m,
                   const awq_block_result *res, ah_err *e) {
    store_run_writer *w = store_run_begin(path, e);
    if (!w) return -1;
    if (store_run_attr_str(w, "", "kind", "awq-search", e) || store_run_attr_str(w, "", "key", key, e) ||
        store_run_attr_int(w, "", "n_layers", m->cfg.n_layers, e) ||
        save_layers(w, m, res, 0, m->cfg.n_layers, e))
        goto fail;
    return store_run_finish(w, e);
fail:
    store_run_abort(w);
    return ah_wrap(e, "%s", path);
}

int awq_cache_save_part(const char *path, const char *key, const model *m,
                        const awq_block_result *res, int l0, int l1, ah_err *e) {
    store_run_writer *w = store_run_begin(path, e);
    if (!w) return -1;
    if (store_run_attr_str(w, "", "kind", "awq-search-part", e) ||
        store_run_attr_str(w, "", "key", key, e) ||
        store_run_attr_int(w, "", "n_layers", m->cfg.n_layers, e) ||
        store_run_attr_int(w, "", "first_layer", l0, e) ||
        store_run_attr_int(w, "", "end_layer", l1, e) || save_layers(w, m, res, l0, l1, e))
        goto fail;
    return store_run_finish(w, e);
fail:
    store_run_abort(w);
    return ah_wrap(e, "%s", path);
}

// ---- loading (through the store's run-file readers) ---------------------------------------

// Dataset `name` of group g, exactly n values; NULL when absent or of another length (the
// caller decides whether that is an error).
static double *read_doubles(const char *path, const char *g, const char *name, size_t n) {
    char ds[160];
    snprintf(ds, sizeof ds, "%s/%s", g, name);
    double *d = NULL;
    size_t got = 0, dims[2];
    ah_err ignore;
    if (store_read_f64(path, NULL, ds, &d, &got, dims, &ignore)) return NULL;
    if (got == n) return d;
    free(d);
    return NULL;
}

// The same as floats (the file stores them as float32: the round trip is exact).
static float *read_floats(const char *path, const char *g, const char *name, size_t n) {
    double *d = read_doubles(path, g, name, n);
    float *f = d ? malloc(n * sizeof *f) : NULL;
    for (size_t i = 0; f && i < n; i++) f[i] = (float)d[i];
    free(d);
    return f;
}

static int load_layers(const char *path, const model *m, awq_block_result *res, int l0, int l1,
                       ah_err *e);

int awq_cache_load(const char *path, const char *key, const model *m, awq_block_result *res,
                   ah_err *e) {
    const model_config *c = &m->cfg;
    memset(res, 0, (size_t)c->n_layers * sizeof *res);
    char stored_key[80];
    double nl = -1;
    if (store_run_attr_str_get(path, NULL, "", "key", stored_key, sizeof stored_key, e) ||
        store_run_attr_real_get(path, NULL, "", "n_layers", &nl, e))
        return ah_wrap(e, "AWQ cache entry");
    if (strcmp(stored_key, key))
        return ah_fail(e, "%s: AWQ cache entry holds key %.12s..., expected %.12s...", path,
                       stored_key, key);
    if ((int)nl != c->n_layers)
        return ah_fail(e, "%s: AWQ cache entry is for %g layers, the model has %d", path, nl,
                       c->n_layers);
    return load_layers(path, m, res, 0, c->n_layers, e);
}

int awq_cache_load_part(const char *path, const char *key, const model *m, awq_block_result *res,
                        int *l0, int *l1, ah_err *e) {
    char stored_key[80], kind[32];
    double nl = -1, a = -1, b = -1;
    if (store_run_attr_str_get(path, NULL, "", "kind", kind, sizeof kind, e) ||
        store_run_attr_str_get(path, NULL, "", "key", stored_key, sizeof stored_key, e) ||
        store_run_attr_real_get(path, NULL, "", "n_layers", &nl, e) ||
        store_run_attr_real_get(path, NULL, "", "first_layer", &a, e) ||
        store_run_attr_real_get(path, NULL, "", "end_layer", &b, e))
        return ah_wrap(e, "AWQ search part");
    if (strcmp(kind, "awq-search-part"))
        return ah_fail(e, "%s: kind is '%s', not an AWQ search part", path, kind);
    if (strcmp(stored_key, key))
        return ah_fail(e, "%s: AWQ search part holds key %.12s..., expected %.12s...", path,
                       stored_key, key);
    if ((int)nl != m->cfg.n_layers || a < 0 || b <= a || b > nl)
        return ah_fail(e, "%s: AWQ search part of blocks [%g, %g) of %g, the model has %d", path,
                       a, b, nl, m->cfg.n_layers);
    *l0 = (int)a;
    *l1 = (int)b;
    return load_layers(path, m, res, *l0, *l1, e);
}

// ---- (the per-layer reader both use) ----------------------------------------------------------

static int load_layers(const char *path, const model *m, awq_block_result *res, int l0, int l1,
                       ah_err *e) {
    const model_config *c = &m->cfg;
    const arch_desc *ad = c->arch;
    char g[128];
    for (int l = l0; l < l1; l++) {
        awq_block_result *r = &res[l];
        for (int gi = 0; gi < ad->n_groups; gi++) {
            awq_group_result *gr = &r->group[gi];
            snprintf(g, sizeof g, "layers/%d/%s", l, ad->groups[gi].name);
            double applied = 0, v = 0;
            if (store_run_attr_real_get(path, NULL, g, "applied", &applied, e)) goto fail;
            if (gi == 0 && !store_run_attr_real_get(path, NULL, g, "seconds", &v, e)) r->seconds = v;
            if (!(gr->applied = applied != 0)) continue;
            gr->width = awq_group_width(c, &ad->groups[gi]);
            if (store_run_attr_real_get(path, NULL, g, "alpha", &v, e)) goto fail;
            gr->alpha = (float)v;
            if (store_run_attr_real_get(path, NULL, g, "n_alpha", &v, e)) goto fail;
            gr->n_alpha = v > 0 && v <= AWQ_MAX_GRID ? (int)v : 0;
            size_t wd = (size_t)gr->width;
            gr->scales = read_floats(path, g, "scales", wd);
            gr->x_mean = read_floats(path, g, "x_mean", wd);
            gr->x_max = read_floats(path, g, "x_max", wd);
            gr->x_p99 = read_floats(path, g, "x_p99", wd);
            if (!gr->scales) {
                ah_fail(e, "%s: %s/scales missing or not of length %d", path, g, gr->width);
                goto fail;
            }
            float *al = gr->n_alpha ? read_floats(path, g, "alphas", (size_t)gr->n_alpha) : NULL;
            double *lo = gr->n_alpha ? read_doubles(path, g, "loss", (size_t)gr->n_alpha) : NULL;
            for (int i = 0; al && lo && i < gr->n_alpha; i++) {
                gr->alphas[i] = al[i];
                gr->loss[i] = lo[i];   // informational: the search curve, not used to apply
            }
            free(al);
            free(lo);
        }
        for (int role = 0; role < L_COUNT; role++) {
            snprintf(g, sizeof g, "layers/%d/clip/%s", l, arch_layer_role_name((arch_layer_role)role));
            double *d = NULL;
            size_t n = 0, dims[2];
            ah_err absent;
            if (store_read_f64(path, NULL, g, &d, &n, dims, &absent)) continue;   // not clipped
            r->clip_groups[role] = (int)dims[1];
            r->clip[role] = malloc(n * sizeof(float));
            for (size_t i = 0; r->clip[role] && i < n; i++) r->clip[role][i] = (float)d[i];
            free(d);
            if (!r->clip[role]) {
                ah_fail(e, "out of memory (AWQ cache)");
                goto fail;
            }
        }
    }
    return 0;
fail:
    for (int l = l0; l < l1; l++) awq_result_free(&res[l]);
    return -1;
}
