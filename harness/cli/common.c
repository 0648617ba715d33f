#include "core/blas.h"
#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("awq-harness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int cli_int(const char *opt, const char *val, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(val, &end, 10);
    if (errno || end == val || *end || x < lo || x > hi) {
        cli_error("%s: expected an integer in [%d, %d], got '%s'", opt, lo, hi, val);
        return -1;
    }
    *out = (int)x;
    return 0;
}

const char *omp_wait_policy(void) {
    const char *p = getenv("OMP_WAIT_POLICY");
    return p && *p ? p : "default";
}

int cli_load_experiment(const char *path, exp_config *cfg, exp_plan *plan) {
    ah_err e = {{0}};
    memset(plan, 0, sizeof *plan);
    if (exp_config_load(cfg, path, &e)) {
        cli_error("%s", e.msg);
        return 2;
    }
    if (exp_plan_build(plan, cfg, &e)) {
        cli_error("%s", e.msg);
        exp_config_free(cfg);
        return 2;
    }
    return 0;
}
