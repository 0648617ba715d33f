// awq_cache.c — saving and loading AWQ search results (awq_cache.h).
#include "experiment/awq_cache.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awq/fold.h"
#include "quant/method.h"
#include "store/store.h"

int awq_cache_save(const char *path, const char *key, const model *m,
                   const awq_block_result *res, ah_err *e) {
    const model_config *c = &m->cfg;
    const arch_desc *ad = c->arch;
    store_run_writer *w = store_run_begin(path, e);
    if (!w) return -1;
    char g[128];
    if (store_run_attr_str(w, "", "kind", "awq-search", e) || store_run_attr_str(w, "", "key", key, e) ||
        store_run_attr_int(w, "", "n_layers", c->n_layers, e))
        goto fail;
    for (int l = 0; l < c->n_layers; l++) {
        const awq_block_result *r = &res[l];
        for (int gi = 0; gi < ad->n_groups; gi++) {
            const awq_group_result *gr = &r->group[gi];
            snprintf(g, sizeof g, "layers/%d/%s", l, ad->groups[gi].name);
            if (store_run_attr_int(w, g, "applied", gr->applied, e)) goto fail;
            if (gi == 0 && store_run_attr_real(w, g, "seconds", r->seconds, e)) goto fail;
            if (!gr->applied) continue;
            size_t wd = (size_t)gr->width, na = (size_t)gr->n_alpha;
            if (store_run_attr_int(w, g, "width", gr->width, e) ||
                store_run_attr_real(w, g, "alpha", gr->alpha, e) ||
                store_run_attr_int(w, g, "n_alpha", gr->n_alpha, e) ||
                store_run_f32(w, g, "scales", gr->scales, 1, &wd, e))
                goto fail;
            if (na && (store_run_f32(w, g, "alphas", gr->alphas, 1, &na, e) ||
                       store_run_f64(w, g, "loss", gr->loss, 1, &na, e)))
                goto fail;
            if ((gr->x_mean && store_run_f32(w, g, "x_mean", gr->x_mean, 1, &wd, e)) ||
                (gr->x_max && store_run_f32(w, g, "x_max", gr->x_max, 1, &wd, e)) ||
                (gr->x_p99 && store_run_f32(w, g, "x_p99", gr->x_p99, 1, &wd, e)))
                goto fail;
        }
        for (int role = 0; role < L_COUNT; role++) {
            if (!r->clip[role]) continue;
            int I = model_input_width(c, (fwd_input)method_role_input((arch_layer_role)role));
            size_t dims[2] = {(size_t)(model_weight_numel(model_lw(m, l, (arch_layer_role)role)) / (size_t)I),
                              (size_t)r->clip_groups[role]};
            snprintf(g, sizeof g, "layers/%d/clip", l);
            if (store_run_f32(w, g, arch_layer_role_name((arch_layer_role)role), r->clip[role], 2,
                              dims, e))
                goto fail;
        }
    }
    return store_run_finish(w, e);
fail:
    store_run_abort(w);
    return ah_wrap(e, "%s", path);
}

// ---- loading (plain HDF5 reads) --------------------------------------------------------------

static int attr_double(hid_t obj, const char *name, double *v) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

// Reads dataset `name` under obj into a new float (or double) array of exactly n elements.
static void *read_array(hid_t obj, const char *name, size_t n, hid_t type, size_t elem) {
    if (H5Lexists(obj, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t sp = H5Dget_space(d);
    hssize_t got = H5Sget_simple_extent_npoints(sp);
    void *buf = NULL;
    if (got == (hssize_t)n && (buf = malloc(n * elem)) && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

int awq_cache_load(const char *path, const char *key, const model *m, awq_block_result *res,
                   ah_err *e) {
    const model_config *c = &m->cfg;
    const arch_desc *ad = c->arch;
    memset(res, 0, (size_t)c->n_layers * sizeof *res);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return ah_fail(e, "%s: cannot open the AWQ cache entry", path);
    int rc = -1;
    char g[128];
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    double nl = -1;
    if (attr_double(root, "n_layers", &nl) || (int)nl != c->n_layers) {
        ah_fail(e, "%s: AWQ cache entry is for %g layers, the model has %d", path, nl, c->n_layers);
        goto done;
    }
    (void)key;   // the file name is the key; the attribute is for people reading the file
    for (int l = 0; l < c->n_layers; l++) {
        awq_block_result *r = &res[l];
        for (int gi = 0; gi < ad->n_groups; gi++) {
            awq_group_result *gr = &r->group[gi];
            snprintf(g, sizeof g, "layers/%d/%s", l, ad->groups[gi].name);
            hid_t grp = H5Lexists(f, "layers", H5P_DEFAULT) > 0 ? H5Gopen2(f, g, H5P_DEFAULT) : -1;
            if (grp < 0) {
                ah_fail(e, "%s: missing group %s", path, g);
                goto done;
            }
            double applied = 0, secs = 0, alpha = 0, na = 0;
            attr_double(grp, "applied", &applied);
            if (gi == 0 && !attr_double(grp, "seconds", &secs)) r->seconds = secs;
            gr->applied = applied != 0;
            if (gr->applied) {
                gr->width = awq_group_width(c, &ad->groups[gi]);
                attr_double(grp, "alpha", &alpha);
                attr_double(grp, "n_alpha", &na);
                gr->alpha = (float)alpha;
                gr->n_alpha = (int)na;
                size_t wd = (size_t)gr->width;
                gr->scales = read_array(grp, "scales", wd, H5T_NATIVE_FLOAT, sizeof(float));
                gr->x_mean = read_array(grp, "x_mean", wd, H5T_NATIVE_FLOAT, sizeof(float));
                gr->x_max = read_array(grp, "x_max", wd, H5T_NATIVE_FLOAT, sizeof(float));
                gr->x_p99 = read_array(grp, "x_p99", wd, H5T_NATIVE_FLOAT, sizeof(float));
                if (gr->n_alpha > 0 && gr->n_alpha <= AWQ_MAX_GRID) {
                    float *al = read_array(grp, "alphas", (size_t)gr->n_alpha, H5T_NATIVE_FLOAT, sizeof(float));
                    double *lo = read_array(grp, "loss", (size_t)gr->n_alpha, H5T_NATIVE_DOUBLE, sizeof(double));
                    if (al) memcpy(gr->alphas, al, (size_t)gr->n_alpha * sizeof(float));
                    if (lo) memcpy(gr->loss, lo, (size_t)gr->n_alpha * sizeof(double));
                    free(al);
                    free(lo);
                }
            }
            H5Gclose(grp);
            if (gr->applied && !gr->scales) {
                ah_fail(e, "%s: %s/scales missing or of the wrong length (%d)", path, g, gr->width);
                goto done;
            }
        }
        snprintf(g, sizeof g, "layers/%d/clip", l);
        if (H5Lexists(f, g, H5P_DEFAULT) <= 0) continue;
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        for (int role = 0; role < L_COUNT; role++) {
            const char *name = arch_layer_role_name((arch_layer_role)role);
            if (H5Lexists(grp, name, H5P_DEFAULT) <= 0) continue;
            hid_t d = H5Dopen2(grp, name, H5P_DEFAULT);
            hid_t sp = H5Dget_space(d);
            hsize_t dims[2] = {0, 0};
            int rank = H5Sget_simple_extent_ndims(sp);
            if (rank == 2) H5Sget_simple_extent_dims(sp, dims, NULL);
            H5Sclose(sp);
            H5Dclose(d);
            r->clip_groups[role] = (int)dims[1];
            r->clip[role] = rank == 2 ? read_array(grp, name, (size_t)(dims[0] * dims[1]), H5T_NATIVE_FLOAT, sizeof(float)) : NULL;
            if (!r->clip[role]) {
                H5Gclose(grp);
                ah_fail(e, "%s: %s/%s unreadable", path, g, name);
                goto done;
            }
        }
        H5Gclose(grp);
    }
    rc = 0;
done:
    H5Gclose(root);
    H5Fclose(f);
    if (rc)
        for (int l = 0; l < c->n_layers; l++) awq_result_free(&res[l]);
    return rc;
}
