// windows.c — the per-window values of a run read from a results file, for the paired rule
// (report_mark_confident) and report_compare: the values, and the evaluation data's hash that
// says two runs scored the same windows.
#include <stdio.h>
#include <stdlib.h>

#include "report/report.h"

int report_windows_file(void *ctx, int run, double **v, size_t *n, char *hash, size_t cap,
                        ah_err *e) {
    const report_file_windows *f = ctx;
    const char *id = f->s->rows[run].id;
    size_t dims[2];
    if (store_read_f64(f->path, id, f->dataset, v, n, dims, e)) return -1;
    if (store_run_attr_str_get(f->path, id, "", "eval_sha256", hash, cap, e)) {
        free(*v);
        *v = NULL;
        return -1;
    }
    return 0;
}
