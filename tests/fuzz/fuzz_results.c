// fuzz_results.c — the results-file readers behind `report`, `plot` and `merge` (harness/store/
// store_read.c, store_merge.c; report/table.c, render.c) on arbitrary bytes as an HDF5 file.
//
// Input: the bytes of one results.h5, written to the private directory. Then, as the commands
// do: store_summary_read and report_build + report_render in every format (report); for each
// run (the first 4), the model_name attribute, the per-layer groups and, per linear, the
// scale_group / alpha attributes and the scales, alphas and loss_vs_alpha datasets (plot), and
// the ppl and nll_per_window datasets; the same datasets of the file read as a run file
// (run_id NULL: the run cache); and store_merge of it into merged.h5, which must then read back. HDF5's own parsing is outside the instrumentation (a
// system library), but every harness line that handles what it returns is inside.
#include <stdlib.h>

#include "core/buf.h"
#include "fuzz_util.h"
#include "report/report.h"
#include "store/store.h"

static const char *const RUN_DATASETS[] = {"ppl", "nll_per_window"};
static const char *const LINEAR_DATASETS[] = {"scales", "alphas", "loss_vs_alpha"};

static void read_dataset(const char *file, const char *run, const char *name) {
    double *d = NULL;
    size_t n = 0, dims[2];
    ah_err e = {{0}};
    if (store_read_f64(file, run, name, &d, &n, dims, &e) == 0) {
        FUZZ_CHECK(n == dims[0] * dims[1]);
        for (size_t i = 0; i < n; i++) (void)(d[i] == 0);   // every element readable
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
    const char *file = fuzz_write_file("results.h5", data, size);
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
