// store_summary.c — the /summary table of a results file (store.h): its compound type, its rows
// built from the complete runs, the rebuild, and the check that it matches the runs.
#include "store/store_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------
// /summary

static hid_t fixed_str(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, STORE_STR_MAX);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

hid_t st_summary_type(hid_t only, size_t *off, size_t *size) {
    size_t o = 0;
    off[0] = o;
    o += STORE_STR_MAX;
    for (int c = 0; c < store_summary_ncolumns; c++) {
        off[1 + c] = o;
        o += store_summary_columns[c].type == STORE_COL_STR ? STORE_STR_MAX : 8;
    }
    *size = o;
    hid_t t = H5Tcreate(H5T_COMPOUND, o), s = fixed_str();
    if (only < 0 || H5Tget_member_index(only, "id") >= 0) H5Tinsert(t, "id", off[0], s);
    for (int c = 0; c < store_summary_ncolumns; c++) {
        const store_column *col = &store_summary_columns[c];
        if (only >= 0 && H5Tget_member_index(only, col->name) < 0) continue;
        hid_t m = col->type == STORE_COL_STR ? s : col->type == STORE_COL_INT ? H5T_STD_I64LE : H5T_IEEE_F64LE;
        H5Tinsert(t, col->name, off[1 + c], m);
    }
    H5Tclose(s);
    return t;
}

// Copies s into a NUL-padded field of STORE_STR_MAX bytes, cut at a UTF-8 character boundary.
static void put_str(char *dst, const char *s) {
    size_t n = strlen(s);
    if (n > STORE_STR_MAX) {
        n = STORE_STR_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, s, n);
}

// One /summary row for run group runs/<id>: attributes first, else a scalar dataset of the
// column's name (ppl and nll are also stored as datasets). Missing: "", INT64_MIN, NaN.
static void fill_row(hid_t runs, const char *id, char *row, const size_t *off) {
    put_str(row + off[0], id);
    hid_t g = H5Gopen2(runs, id, H5P_DEFAULT);
    for (int c = 0; c < store_summary_ncolumns; c++) {
        const store_column *col = &store_summary_columns[c];
        char *dst = row + off[1 + c];
        st_value v = {0};
        if (g < 0 || st_attr_get(g, ".", col->name, &v) || v.kind == SV_MISSING) {
            st_value_free(&v);
            if (g < 0 || st_dset_get(g, col->name, &v)) v.kind = SV_MISSING;
        }
        if (col->type == STORE_COL_STR) {
            char num[64];
            if (v.kind == SV_STR) put_str(dst, v.s);
            else if (v.kind != SV_MISSING && st_value_str(&v, num, sizeof num) == 0) put_str(dst, num);
        } else if (col->type == STORE_COL_INT) {
            long long x;
            int64_t i = st_value_int(&v, &x) == 0 ? (int64_t)x : INT64_MIN;
            memcpy(dst, &i, 8);
        } else {
            double r;
            if (st_value_real(&v, &r)) r = NAN;
            memcpy(dst, &r, 8);
        }
        st_value_free(&v);
    }
    if (g >= 0) H5Gclose(g);
}

// Opens /summary when it has this build's type and is resizable (chunked); -1 otherwise.
static hid_t open_current(hid_t file, hid_t ft) {
    if (H5Lexists(file, "summary", H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(file, "summary", H5P_DEFAULT);
    int ok = 0;
    if (d >= 0) {
        hid_t t = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
        ok = t >= 0 && H5Tequal(t, ft) > 0 && dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED;
        if (t >= 0) H5Tclose(t);
        if (dcpl >= 0) H5Pclose(dcpl);
    }
    if (ok) return d;
    if (d >= 0) H5Dclose(d);
    return -1;
}

// Opens /summary for rewriting when it already has this build's type and is resizable;
// otherwise deletes it (a file written by an older layout, or a damaged table) and returns -1.
static hid_t reuse_summary(hid_t file, hid_t ft) {
    hid_t d = open_current(file, ft);
    if (d >= 0) return d;
    if (H5Lexists(file, "summary", H5P_DEFAULT) > 0) H5Ldelete(file, "summary", H5P_DEFAULT);
    return -1;
}

// The rows of the complete runs, in id order (ids are strcmp-sorted), each `size` bytes laid
// out by off; *k of them. No /runs group: no rows. NULL when /runs cannot be read.
static char *build_rows(hid_t file, const size_t *off, size_t size, hsize_t *k) {
    char **ids = NULL;
    int nids = 0;
    *k = 0;
    if (H5Lexists(file, "runs", H5P_DEFAULT) <= 0) return calloc(1, size);
    if (st_link_names(file, "runs", &ids, &nids)) return NULL;
    hid_t runs = H5Gopen2(file, "runs", H5P_DEFAULT);
    char *rows = runs >= 0 ? calloc(nids ? (size_t)nids : 1, size) : NULL;
    for (int i = 0; rows && i < nids; i++)
        if (st_is_complete(runs, ids[i])) fill_row(runs, ids[i], rows + (*k)++ * size, off);
    if (runs >= 0) H5Gclose(runs);
    st_names_free(ids, nids);
    return rows;
}

int st_summary_matches(hid_t file) {
    size_t off[1 + STORE_MAX_COLUMNS], size;
    hsize_t k, n = 0;
    hid_t ft = st_summary_type(-1, off, &size), d = -1, sp = -1;
    char *rows = ft >= 0 ? build_rows(file, off, size, &k) : NULL, *got = NULL;
    int same = 0;
    if (rows && (d = open_current(file, ft)) >= 0 && (sp = H5Dget_space(d)) >= 0 &&
        H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, &n, NULL) == 1 && n == k &&
        (got = calloc(k ? (size_t)k : 1, size)))
        same = (!k || H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0) && memcmp(got, rows, (size_t)k * size) == 0;
    free(got);
    free(rows);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (ft >= 0) H5Tclose(ft);
    return same;
}

int st_summary_rebuild(hid_t file, const char *path, ah_err *e) {
    size_t off[1 + STORE_MAX_COLUMNS], size;
    int rc = -1;
    hid_t ft = st_summary_type(-1, off, &size), d = -1, sp = -1, dcpl = -1;
    if (ft < 0) return ah_fail(e, "%s: cannot build the /summary type", path);
    hsize_t k;
    char *rows = build_rows(file, off, size, &k);
    if (!rows) {
        ah_fail(e, "%s: cannot read /runs (or out of memory)", path);
        goto done;
    }
    if ((d = reuse_summary(file, ft)) >= 0) {
        if (H5Dset_extent(d, &k) < 0) {
            st5_fail(e, path, "cannot resize /summary");
            goto done;
        }
    } else {
        hsize_t maxd = H5S_UNLIMITED, chunk = SUMMARY_CHUNK;
        sp = H5Screate_simple(1, &k, &maxd);
        dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (sp < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
            (d = H5Dcreate2(file, "summary", ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
            st5_fail(e, path, "cannot create /summary");
            goto done;
        }
    }
    if (k && H5Dwrite(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) {
        st5_fail(e, path, "cannot write /summary");
        goto done;
    }
    rc = 0;
done:
    // Closing flushes the chunk cache: a full disk may show only here.
    if (d >= 0 && H5Dclose(d) < 0 && rc == 0) rc = st5_fail(e, path, "cannot write /summary");
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    H5Tclose(ft);
    free(rows);
    return rc;
}

