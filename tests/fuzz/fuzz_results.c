// fuzz_results.c — the results-file readers behind `report`, `plot` and `merge` (harness/store/
// store_read.c, store_merge.c; report/table.c, render.c) on hostile results files.
//
// Input: a recipe for one results.h5, which libhdf5 writes to the private directory: root
// attributes, up to 3 runs (any group name), their attributes (every /summary column name,
// status, key, model_name), ppl / nll_per_window and per-layer datasets, and a /summary table,
// each item absent or of a type and shape the input picks (integers, reals, fixed and variable
// strings without their NUL, arrays, rank 0-3, empty, compound fields missing or retyped).
// Well-formed HDF5 with any content: the file is the harness's to validate. Raw damaged bytes
// are not: they crash libhdf5 1.10 itself within seconds (tests/fuzz/README.md, findings).
// Then, as the commands read it: store_summary_read, report_build + report_render in every
// format (report); for each run the model_name attribute, the per-layer groups and, per linear,
// scale_group, alpha, scales, alphas, loss_vs_alpha (plot); ppl and nll_per_window; the same
// read as a run file (run_id NULL, the run cache); store_merge into merged.h5, which must read
// back. Declared sizes stay at most 8 per dimension: the recipe explores types and structure.
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "report/report.h"
#include "store/store.h"

// ---- the recipe: bytes taken in order, 0 once the input is used up

typedef struct {
    const uint8_t *p;
    size_t n;
} recipe;

static unsigned take(recipe *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

// A name or text of up to cap-1 bytes (any bytes; the first NUL ends it as a C string).
static void take_text(recipe *r, char *buf, size_t cap) {
    size_t len = take(r) % cap;
    for (size_t i = 0; i < len; i++) buf[i] = (char)take(r);
    buf[len] = '\0';
}

static void take_bytes(recipe *r, void *buf, size_t n) {
    for (size_t i = 0; i < n; i++) ((uint8_t *)buf)[i] = (uint8_t)take(r);
}

// ---- writing items of the recipe's choosing

// A string type: variable length, or fixed of 1..80 bytes (NUL-padded or not, as HDF5 allows).
static hid_t string_type(recipe *r) {
    hid_t t = H5Tcopy(H5T_C_S1);
    unsigned k = take(r);
    H5Tset_size(t, k % 2 ? H5T_VARIABLE : 1 + k % 80);
    return t;
}

// Writes attribute (or, dataset set, dataset) name of obj: absent, int64, double, string or an
// int / double array; rank 0..3 of at most 8 per dimension.
static void write_item(recipe *r, hid_t obj, const char *name, int dataset) {
    unsigned kind = take(r) % 6;
    if (kind == 0) return;
    hsize_t dims[3] = {1, 1, 1};
    int rank = kind >= 4 ? (int)(take(r) % 4) : 0;
    for (int i = 0; i < rank; i++) dims[i] = take(r) % 9;
    hid_t t = kind == 1 || kind == 4 ? H5Tcopy(H5T_NATIVE_INT64)
            : kind == 3 ? string_type(r) : H5Tcopy(H5T_NATIVE_DOUBLE);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t o = dataset ? H5Dcreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                      : H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    size_t n = (size_t)dims[0] * dims[1] * dims[2], esz = H5Tget_size(t);
    char text[96];
    const char *vs = text;
    void *buf = NULL;
    if (H5Tis_variable_str(t) > 0) {   // one text for the (at most 512) elements
        take_text(r, text, sizeof text);
        const char **v = malloc(n * sizeof *v + 1);
        for (size_t i = 0; v && i < n; i++) v[i] = vs;
        buf = v;
    } else if ((buf = malloc(n * esz + 1))) {
        take_bytes(r, buf, n * esz);
    }
    if (o >= 0 && buf) {
        if (dataset) H5Dwrite(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        else H5Awrite(o, t, buf);
    }
    free(buf);
    if (o >= 0) dataset ? H5Dclose(o) : H5Aclose(o);
    H5Sclose(sp);
    H5Tclose(t);
}

// /summary: a compound table of 0..4 rows ("id" then a choice of the columns, each of its own
// type or another), or a plain item of that name.
static void write_summary(recipe *r, hid_t f) {
    if (take(r) % 3 != 1) {
        write_item(r, f, "summary", 1);
        return;
    }
    hid_t parts[64];
    int np = 0;
    size_t size = 0;
    hid_t ct = H5Tcreate(H5T_COMPOUND, 4096);
    for (int c = -1; c < store_summary_ncolumns && np < 64; c++) {
        if (c >= 0 && take(r) % 2) continue;
        unsigned k = take(r) % 4;
        hid_t t = k == 0 ? H5Tcopy(H5T_NATIVE_INT64) : k == 1 ? H5Tcopy(H5T_NATIVE_DOUBLE)
                                                             : string_type(r);
        H5Tinsert(ct, c < 0 ? "id" : store_summary_columns[c].name, size, t);
        size += H5Tget_size(t);
        parts[np++] = t;
    }
    H5Tset_size(ct, size ? size : 1);
    hsize_t rows = take(r) % 5;
    hid_t sp = H5Screate_simple(1, &rows, NULL);
    hid_t d = H5Dcreate2(f, "summary", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    uint8_t *buf = calloc(rows * size + 1, 1);
    char text[96] = "";
    take_text(r, text, sizeof text);
    for (size_t i = 0; buf && i < rows * size; i++) buf[i] = (uint8_t)take(r);
    // variable-length string fields point at the one text
    for (int i = 0, off = 0; buf && i < np; off += (int)H5Tget_size(parts[i]), i++)
        if (H5Tis_variable_str(parts[i]) > 0)
            for (hsize_t row = 0; row < rows; row++) {
                const char *p = text;
                memcpy(buf + row * size + (size_t)off, &p, sizeof p);
            }
    if (d >= 0 && buf && rows) H5Dwrite(d, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    free(buf);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    for (int i = 0; i < np; i++) H5Tclose(parts[i]);
    H5Tclose(ct);
}

static const char *const RUN_ATTRS[] = {"status", "key", "model_name", "id"};
static const char *const RUN_DATASETS[] = {"ppl", "nll_per_window"};
static const char *const LINEAR_DATASETS[] = {"scales", "alphas", "loss_vs_alpha"};
static const char *const LINEARS[] = {"q_proj", "down_proj", "fc1"};

// One run group /runs/<id> (or the root group, for a run file): attributes, datasets, layers.
static void write_run(recipe *r, hid_t g) {
    for (size_t i = 0; i < sizeof RUN_ATTRS / sizeof *RUN_ATTRS; i++) write_item(r, g, RUN_ATTRS[i], 0);
    for (int c = 0; c < store_summary_ncolumns; c++)
        if (take(r) % 3 == 0) write_item(r, g, store_summary_columns[c].name, 0);
    for (size_t i = 0; i < sizeof RUN_DATASETS / sizeof *RUN_DATASETS; i++)
        write_item(r, g, RUN_DATASETS[i], 1);
    for (unsigned l = 0, nl = take(r) % 3; l < nl; l++) {
        char name[64];
        snprintf(name, sizeof name, "layers/%u/%s", take(r) % 4, LINEARS[take(r) % 3]);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        hid_t lg = H5Gcreate2(g, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        H5Pclose(lcpl);
        if (lg < 0) continue;
        write_item(r, lg, "scale_group", 0);
        write_item(r, lg, "alpha", 0);
        for (size_t i = 0; i < sizeof LINEAR_DATASETS / sizeof *LINEAR_DATASETS; i++)
            write_item(r, lg, LINEAR_DATASETS[i], 1);
        H5Gclose(lg);
    }
}

static const char *const ROOT_ATTRS[] = {"schema_version", "harness_version", "git_commit",
                                         "created", "experiment", "experiment_ini"};

static void write_results(recipe *r, const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) abort();
    for (size_t i = 0; i < sizeof ROOT_ATTRS / sizeof *ROOT_ATTRS; i++) write_item(r, f, ROOT_ATTRS[i], 0);
    if (take(r) % 4) {
        hid_t runs = H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (unsigned i = 0, n = take(r) % 4; runs >= 0 && i < n; i++) {
            char id[72];
            take_text(r, id, sizeof id);
            hid_t g = H5Gcreate2(runs, id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g >= 0) write_run(r, g);
            if (g >= 0) H5Gclose(g);
        }
        if (runs >= 0) H5Gclose(runs);
    } else {
        write_run(r, f);   // a run file: its root group is the run
    }
    write_summary(r, f);
    H5Fclose(f);
}

// ---- reading it as report, plot and merge do

static void read_dataset(const char *file, const char *run, const char *name) {
    double *d = NULL;
    size_t n = 0, dims[2];
    ah_err e = {{0}};
    if (store_read_f64(file, run, name, &d, &n, dims, &e) == 0) {
        FUZZ_CHECK(n == dims[0] * dims[1]);
        volatile double sum = 0;
        for (size_t i = 0; i < n; i++) sum += d[i];   // every element readable
        (void)sum;
    }
    free(d);
}

// What plot reads of one linear layers/<l>/<lin>.
static void read_linear(const char *file, const char *run, const char *where) {
    char g[32], ds[224];
    double alpha;
    ah_err e = {{0}};
    (void)store_run_attr_str_get(file, run, where, "scale_group", g, sizeof g, &e);
    (void)store_run_attr_real_get(file, run, where, "alpha", &alpha, &e);
    for (size_t i = 0; i < sizeof LINEAR_DATASETS / sizeof *LINEAR_DATASETS; i++) {
        snprintf(ds, sizeof ds, "%s/%s", where, LINEAR_DATASETS[i]);
        read_dataset(file, run, ds);
    }
}

static void read_run(const char *file, const char *run) {
    char model[256], grp[96], where[160];
    ah_err e = {{0}};
    (void)store_run_attr_str_get(file, run, "", "model_name", model, sizeof model, &e);
    for (size_t i = 0; i < sizeof RUN_DATASETS / sizeof *RUN_DATASETS; i++)
        read_dataset(file, run, RUN_DATASETS[i]);
    char **layers = NULL;
    int nl = 0;
    if (store_list(file, run, "layers", &layers, &nl, &e) == 0) {
        for (int i = 0; i < nl && i < 4; i++) {
            char **lin = NULL;
            int nlin = 0;
            snprintf(grp, sizeof grp, "layers/%s", layers[i]);
            if (store_list(file, run, grp, &lin, &nlin, &e)) continue;
            for (int k = 0; k < nlin && k < 8; k++) {
                snprintf(where, sizeof where, "%s/%s", grp, lin[k]);
                read_linear(file, run, where);
            }
            store_list_free(lin, nlin);
        }
    }
    store_list_free(layers, nl);
}

// report: the table in every format (errors such as "no runs" are answers, not bugs).
static void report(const store_summary *s, const char *file) {
    report_table t = {0};
    report_opts o = {.file = file};
    ah_err e = {{0}};
    if (report_build(&t, s, &o, &e) == 0) {
        for (report_format f = REPORT_MD; f <= REPORT_CSV; f++) {
            ah_buf out = {0};
            (void)report_render(&out, &t, f, -1, &e);
            free(out.p);
        }
    }
    report_table_free(&t);
}

static void merge(const char *file) {
    const char *out = fuzz_path("merged.h5");
    (void)fuzz_path("merged.h5.lock");   // store_merge's lock file, removed at exit
    ah_err e = {{0}};
    unlink(out);
    if (store_merge(out, &file, 1, &e)) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return;
    }
    store_summary m;
    ah_err e2 = {{0}};
    int rc = store_summary_read(out, &m, &e2);
    if (rc) fprintf(stderr, "fuzz_results: merged file does not read back: %s\n", e2.msg);
    FUZZ_CHECK(rc == 0);
    store_summary_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   // the recipe's refused items are not news
    const char *file = fuzz_path("results.h5");
    recipe r = {data, size};
    write_results(&r, file);
    ah_err e = {{0}};
    store_summary s;
    if (store_summary_read(file, &s, &e) == 0) {
        FUZZ_CHECK(s.n >= 0 && (s.n == 0 || s.rows));
        report(&s, file);
        for (int i = 0; i < s.n && i < 4; i++) read_run(file, s.rows[i].id);
        store_summary_free(&s);
    } else {
        FUZZ_CHECK(e.msg[0] != '\0');
    }
    read_run(file, NULL);
    merge(file);
    return 0;
}
