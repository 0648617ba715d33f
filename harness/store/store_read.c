// store_read.c — reading results files (and run files): scalar attribute values in any type,
// /summary, run datasets, child groups and attributes. Read-only opens, no lock: the writer
// only ever renames whole files into place, so a reader sees one complete version.
#include "store/store_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

// "/runs/<run_id>/<sub>" (or "/<sub>" for run_id NULL, a run file) into buf.
static int run_obj(char *buf, size_t cap, const char *file, const char *run_id, const char *sub, ah_err *e) {
    while (sub && *sub == '/') sub++;
    if (run_id && st_check_id(file, run_id, e)) return -1;
    int n = run_id ? snprintf(buf, cap, "/runs/%s%s%s", run_id, sub && *sub ? "/" : "", sub ? sub : "")
                   : snprintf(buf, cap, "/%s", sub ? sub : "");
    if (n < 0 || (size_t)n >= cap) return ah_fail(e, "%s: object path too long", file);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// scalar values: attributes and one-element datasets of any number or string type

static int read_value(hid_t id, int is_attr, st_value *v) {
    hid_t ft = is_attr ? H5Aget_type(id) : H5Dget_type(id);
    hid_t sp = is_attr ? H5Aget_space(id) : H5Dget_space(id);
    hid_t mt = -1;
    int rc = -1;
    if (ft < 0 || sp < 0 || H5Sget_simple_extent_npoints(sp) != 1) goto done;
    H5T_class_t cls = H5Tget_class(ft);
    void *dst;
    if (cls == H5T_INTEGER) {
        mt = H5Tcopy(H5T_NATIVE_LLONG);
        dst = &v->i;
    } else if (cls == H5T_FLOAT) {
        mt = H5Tcopy(H5T_NATIVE_DOUBLE);
        dst = &v->r;
    } else if (cls == H5T_STRING) {
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *vs = NULL;
        if (H5Tis_variable_str(ft) > 0) {
            H5Tset_size(mt, H5T_VARIABLE);
            if ((is_attr ? H5Aread(id, mt, &vs) : H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &vs)) < 0)
                goto done;
            v->s = strdup(vs ? vs : "");
            H5free_memory(vs);
        } else {
            size_t n = H5Tget_size(ft);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            if (!(v->s = calloc(1, n + 1))) goto done;
            if ((is_attr ? H5Aread(id, mt, v->s) : H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v->s)) < 0) {
                free(v->s);
                v->s = NULL;
                goto done;
            }
        }
        if (v->s) {
            v->kind = SV_STR;
            rc = 0;
        }
        goto done;
    } else {
        goto done;   // enums (h5py's bool), arrays, compounds: not a column value
    }
    if ((is_attr ? H5Aread(id, mt, dst) : H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst)) < 0) goto done;
    v->kind = cls == H5T_INTEGER ? SV_INT : SV_REAL;
    rc = 0;
done:
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

int st_attr_get(hid_t loc, const char *obj, const char *name, st_value *v) {
    memset(v, 0, sizeof *v);
    if (H5Aexists_by_name(loc, obj, name, H5P_DEFAULT) <= 0) return 0;
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = read_value(a, 1, v);
    H5Aclose(a);
    return rc;
}

int st_dset_get(hid_t loc, const char *name, st_value *v) {
    memset(v, 0, sizeof *v);
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return 0;
    hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
    if (o < 0) return -1;
    int rc = H5Iget_type(o) == H5I_DATASET ? read_value(o, 0, v) : 0;
    H5Oclose(o);
    return rc;
}

void st_value_free(st_value *v) {
    if (v) free(v->s);
    if (v) v->s = NULL;
}

// The whole string is one number (surrounding blanks allowed).
static int parse_real(const char *s, double *out) {
    char *end;
    errno = 0;
    double r = strtod(s, &end);
    if (end == s) return -1;
    while (*end == ' ' || *end == '\t') end++;
    if (*end) return -1;
    *out = r;
    return 0;
}

int st_value_real(const st_value *v, double *out) {
    switch (v->kind) {
    case SV_INT: *out = (double)v->i; return 0;
    case SV_REAL: *out = v->r; return 0;
    case SV_STR: return parse_real(v->s, out);
    default: return -1;
    }
}

int st_value_int(const st_value *v, long long *out) {
    double r;
    switch (v->kind) {
    case SV_INT: *out = v->i; return 0;
    case SV_REAL: r = v->r; break;
    case SV_STR: {
        char *end;
        errno = 0;
        long long x = strtoll(v->s, &end, 10);
        if (end != v->s && !*end && errno == 0) {
            *out = x;
            return 0;
        }
        if (parse_real(v->s, &r)) return -1;   // "4.0" is 4
        break;
    }
    default: return -1;
    }
    // A real converts only when it is an integer in range.
    if (!(r >= -9.2e18 && r <= 9.2e18) || r != floor(r)) return -1;
    *out = (long long)r;
    return 0;
}

int st_value_str(const st_value *v, char *buf, size_t cap) {
    int n;
    switch (v->kind) {
    case SV_INT: n = snprintf(buf, cap, "%lld", v->i); break;
    case SV_REAL:
        // Shortest of %.15g..%.17g that reads back to the same double: 0.1, not 0.10000000000000001.
        for (int p = 15; p <= 17; p++) {
            n = snprintf(buf, cap, "%.*g", p, v->r);
            if (n >= 0 && (size_t)n < cap && (strtod(buf, NULL) == v->r || isnan(v->r))) break;
        }
        break;
    case SV_STR: n = snprintf(buf, cap, "%s", v->s); break;
    default: return -1;
    }
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------
// /summary

// A damaged /summary is rebuilt from the run records when `run` opens the file (store_open).
#define REBUILD " (`awq-harness run` of its experiment rebuilds it from the runs)"

int store_column_index(const char *name) {
    for (int c = 0; name && c < store_summary_ncolumns; c++)
        if (strcmp(store_summary_columns[c].name, name) == 0) return c;
    return -1;
}

void store_summary_free(store_summary *s) {
    if (!s) return;
    if (s->n > 0 && s->rows) {   // every row points into one block of strings and one of numbers
        free(s->rows[0].str);
        free(s->rows[0].num);
    }
    free(s->rows);
    free(s->experiment_ini);
    memset(s, 0, sizeof *s);
}

// The summary's compound type must have a string id and, for each of our columns it has,
// a member of the matching class (strings for STR, numbers otherwise).
static int check_summary_type(hid_t ft, const char *path, ah_err *e) {
    if (H5Tget_class(ft) != H5T_COMPOUND) return ah_fail(e, "%s: /summary is not a compound table" REBUILD, path);
    int idx = H5Tget_member_index(ft, "id");
    if (idx < 0 || H5Tget_member_class(ft, (unsigned)idx) != H5T_STRING)
        return ah_fail(e, "%s: /summary has no string field 'id'" REBUILD, path);
    for (int c = 0; c < store_summary_ncolumns; c++) {
        const store_column *col = &store_summary_columns[c];
        if ((idx = H5Tget_member_index(ft, col->name)) < 0) continue;
        H5T_class_t k = H5Tget_member_class(ft, (unsigned)idx);
        int ok = col->type == STORE_COL_STR ? k == H5T_STRING : k == H5T_INTEGER || k == H5T_FLOAT;
        if (!ok) return ah_fail(e, "%s: /summary field '%s' has the wrong type" REBUILD, path, col->name);
    }
    return 0;
}

static void read_root(hid_t f, store_summary *out) {
    st_value v;
    if (st_attr_get(f, ".", "experiment", &v) == 0 && v.kind == SV_STR)
        snprintf(out->experiment, sizeof out->experiment, "%s", v.s);
    st_value_free(&v);
    if (st_attr_get(f, ".", "experiment_ini", &v) == 0 && v.kind == SV_STR) {
        out->experiment_ini = v.s;   // taken over
        v.s = NULL;
    }
    st_value_free(&v);
}

int store_summary_read(const char *path, store_summary *out, ah_err *e) {
    st5_quiet();
    memset(out, 0, sizeof *out);
    if (!path) return ah_fail(e, "store_summary_read: no path");
    hid_t f = st5_open(path, H5F_ACC_RDONLY, e), d = -1, ft = -1, mt = -1, sp = -1;
    if (f < 0) return -1;
    int rc = -1, ncol = store_summary_ncolumns;
    char *buf = NULL;
    size_t off[1 + STORE_MAX_COLUMNS], size;
    if (st_check_schema(f, path, e)) goto done;
    read_root(f, out);
    if (st_check_stored(path, out, e)) goto done;
    if (H5Lexists(f, "summary", H5P_DEFAULT) <= 0 || (d = H5Dopen2(f, "summary", H5P_DEFAULT)) < 0) {
        ah_fail(e, "%s: no /summary table" REBUILD, path);
        goto done;
    }
    if ((ft = H5Dget_type(d)) < 0 || check_summary_type(ft, path, e)) goto done;
    sp = H5Dget_space(d);
    hssize_t n = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (n < 0 || n > 1000000000) {
        ah_fail(e, "%s: /summary is not a 1-D table" REBUILD, path);
        goto done;
    }
    // Only the fields the file has are read; the others stay "" / NaN.
    mt = st_summary_type(ft, off, &size);
    if (!(buf = calloc(n ? (size_t)n : 1, size))) {
        ah_fail(e, "%s: out of memory reading /summary", path);
        goto done;
    }
    if (n && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        ah_fail(e, "%s: cannot read /summary" REBUILD, path);
        goto done;
    }
    if (n) {
        out->rows = calloc((size_t)n, sizeof *out->rows);
        char(*strs)[STORE_STR_CAP] = calloc((size_t)n * (size_t)ncol, STORE_STR_CAP);
        double *nums = calloc((size_t)n * (size_t)ncol, sizeof *nums);
        if (!out->rows || !strs || !nums) {
            free(strs);
            free(nums);
            ah_fail(e, "%s: out of memory reading /summary", path);
            goto done;
        }
        out->n = (int)n;
        for (hssize_t r = 0; r < n; r++) {
            store_row *row = &out->rows[r];
            const char *src = buf + (size_t)r * size;
            row->str = strs + (size_t)r * (size_t)ncol;
            row->num = nums + (size_t)r * (size_t)ncol;
            memcpy(row->id, src + off[0], STORE_STR_MAX);
            for (int c = 0; c < ncol; c++) {
                int present = H5Tget_member_index(ft, store_summary_columns[c].name) >= 0;
                row->num[c] = NAN;
                if (!present) continue;
                const char *p = src + off[1 + c];
                if (store_summary_columns[c].type == STORE_COL_STR) {
                    memcpy(row->str[c], p, STORE_STR_MAX);
                } else if (store_summary_columns[c].type == STORE_COL_INT) {
                    int64_t i;
                    memcpy(&i, p, 8);
                    if (i != INT64_MIN) row->num[c] = (double)i;
                } else {
                    memcpy(&row->num[c], p, 8);
                }
            }
        }
    }
    rc = 0;
done:
    if (rc) store_summary_free(out);
    free(buf);
    if (sp >= 0) H5Sclose(sp);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// run datasets, groups, attributes

int store_read_f64(const char *file, const char *run_id, const char *dataset, double **data,
                   size_t *n, size_t dims[2], ah_err *e) {
    st5_quiet();
    *data = NULL;
    *n = 0;
    dims[0] = dims[1] = 0;
    char obj[4096];
    if (!file || !dataset || !*dataset) return ah_fail(e, "store_read_f64: no file or dataset");
    if (run_obj(obj, sizeof obj, file, run_id, dataset, e)) return -1;
    hid_t f = st5_open(file, H5F_ACC_RDONLY, e), d = -1, sp = -1, t = -1;
    if (f < 0) return -1;
    int rc = -1;
    if ((d = H5Dopen2(f, obj, H5P_DEFAULT)) < 0) {
        ah_fail(e, "%s: no dataset %s", file, obj);
        goto done;
    }
    sp = H5Dget_space(d);
    t = H5Dget_type(d);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (rank < 0 || rank > 2) {
        ah_fail(e, "%s: %s: rank %d, at most 2 supported", file, obj, rank);
        goto done;
    }
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        ah_fail(e, "%s: %s: not a numeric dataset", file, obj);
        goto done;
    }
    hsize_t hd[2] = {1, 1};
    H5Sget_simple_extent_dims(sp, hd, NULL);
    size_t cnt = 1;
    for (int i = 0; i < rank; i++)
        if (ah_mul_ok(&cnt, cnt, (size_t)hd[i]) || cnt > SIZE_MAX / sizeof(double)) {
            ah_fail(e, "%s: %s: size overflows", file, obj);
            goto done;
        }
    // The declared size must be what the file can hold: a damaged or hostile file may declare
    // 2^37 values over no stored bytes. Our datasets are stored whole or deflated (zlib cannot
    // expand a byte more than ~1032-fold), and none is near 2^28 values (2 GiB of doubles).
    double stored = (double)H5Dget_storage_size(d), declared = (double)cnt * (double)H5Tget_size(t);
    if (cnt > ((size_t)1 << 28) || declared > stored * 1100.0 + 65536.0) {
        ah_fail(e, "%s: %s declares %zu values but stores %.0f bytes: damaged file?", file, obj, cnt,
                stored);
        goto done;
    }
    double *buf = malloc(cnt ? cnt * sizeof *buf : sizeof *buf);
    if (!buf) {
        ah_fail(e, "%s: %s: out of memory (%zu values)", file, obj, cnt);
        goto done;
    }
    if (cnt && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        ah_fail(e, "%s: %s: read failed", file, obj);
        goto done;
    }
    *data = buf;
    *n = cnt;
    dims[0] = (size_t)hd[0];
    dims[1] = rank == 2 ? (size_t)hd[1] : 1;
    rc = 0;
done:
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

void store_list_free(char **names, int n) { st_names_free(names, n); }

static int all_digits(const char *s) { return *s && strlen(s) < 19 && strspn(s, "0123456789") == strlen(s); }

static int cmp_num(const void *a, const void *b) {
    unsigned long long x = strtoull(*(char *const *)a, NULL, 10), y = strtoull(*(char *const *)b, NULL, 10);
    return x < y ? -1 : x > y;
}

int store_list(const char *file, const char *run_id, const char *group, char ***names, int *n, ah_err *e) {
    st5_quiet();
    *names = NULL;
    *n = 0;
    char obj[4096];
    if (!file) return ah_fail(e, "store_list: no file");
    if (run_obj(obj, sizeof obj, file, run_id, group, e)) return -1;
    hid_t f = st5_open(file, H5F_ACC_RDONLY, e);
    if (f < 0) return -1;
    char **all = NULL;
    int nall = 0, k = 0, rc = -1;
    hid_t g = H5Gopen2(f, obj, H5P_DEFAULT);
    if (g < 0 || st_link_names(g, ".", &all, &nall)) {
        ah_fail(e, "%s: no group %s", file, obj);
        goto done;
    }
    // Keep the child groups (datasets beside them are not listed); all[] is reused in place.
    int numeric = 1;
    for (int i = 0; i < nall; i++) {
        hid_t o = H5Oopen(g, all[i], H5P_DEFAULT);
        int is_group = o >= 0 && H5Iget_type(o) == H5I_GROUP;
        if (o >= 0) H5Oclose(o);
        if (!is_group) {
            free(all[i]);
            continue;
        }
        numeric &= all_digits(all[i]);
        all[k++] = all[i];
    }
    if (numeric && k) qsort(all, (size_t)k, sizeof *all, cmp_num);
    if (k == 0) {
        free(all);
        all = NULL;
    }
    *names = all;
    *n = k;
    all = NULL;
    rc = 0;
done:
    if (all) st_names_free(all, nall);
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    return rc;
}

// Reads attribute name of the run's group into *v (SV_MISSING never returned: an error).
static int get_attr(const char *file, const char *run_id, const char *group, const char *name,
                    st_value *v, char *obj, size_t cap, ah_err *e) {
    memset(v, 0, sizeof *v);
    if (!file || !name) return ah_fail(e, "store_run_attr_get: no file or attribute name");
    if (run_obj(obj, cap, file, run_id, group, e)) return -1;
    hid_t f = st5_open(file, H5F_ACC_RDONLY, e);
    if (f < 0) return -1;
    int rc = -1;
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    if (o < 0) ah_fail(e, "%s: no group %s", file, obj);
    else if (st_attr_get(o, ".", name, v)) ah_fail(e, "%s: %s: attribute '%s' is not one number or string", file, obj, name);
    else if (v->kind == SV_MISSING) ah_fail(e, "%s: %s: no attribute '%s'", file, obj, name);
    else rc = 0;
    if (o >= 0) H5Oclose(o);
    H5Fclose(f);
    return rc;
}

int store_run_attr_str_get(const char *file, const char *run_id, const char *group, const char *name,
                           char *buf, size_t cap, ah_err *e) {
    st5_quiet();
    st_value v;
    char obj[4096];
    int rc = get_attr(file, run_id, group, name, &v, obj, sizeof obj, e);
    if (rc == 0 && (!buf || st_value_str(&v, buf, cap)))
        rc = ah_fail(e, "%s: %s: attribute '%s' does not fit in %zu bytes", file, obj, name, cap);
    st_value_free(&v);
    return rc;
}

int store_run_attr_real_get(const char *file, const char *run_id, const char *group,
                            const char *name, double *out, ah_err *e) {
    st5_quiet();
    st_value v;
    char obj[4096];
    int rc = get_attr(file, run_id, group, name, &v, obj, sizeof obj, e);
    if (rc == 0 && st_value_real(&v, out))
        rc = ah_fail(e, "%s: %s: attribute '%s' (\"%s\") is not a number", file, obj, name, v.s ? v.s : "");
    st_value_free(&v);
    return rc;
}
