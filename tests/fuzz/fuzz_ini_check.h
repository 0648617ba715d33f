// fuzz_ini_check.h — the checked INI load shared by the ini and ini_include targets.
//
// exp_config_load of a file as `run` does; on success counts lie within their arrays and the
// stored text (c->ini_text, kept in results files, includes expanded in place) parses on its
// own (exp_config_load_string, the string reader) to the same experiment. Inputs naming /dev,
// /proc or /sys are skipped: `include = /dev/stdin` would block on a read, which is the user's
// request and not a parser bug.
#ifndef AH_FUZZ_INI_CHECK_H
#define AH_FUZZ_INI_CHECK_H

#include <string.h>

#include "experiment/config.h"
#include "fuzz_util.h"

static inline int fuzz_ini_skip(const uint8_t *data, size_t size) {
    return memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
           memmem(data, size, "/sys", 4);
}

static inline void fuzz_ini_same(const exp_config *a, const exp_config *b) {
    FUZZ_CHECK(strcmp(a->model_path, b->model_path) == 0);
    FUZZ_CHECK(strcmp(a->eval_data, b->eval_data) == 0);
    FUZZ_CHECK(strcmp(a->output, b->output) == 0);
    FUZZ_CHECK(a->n_plots == b->n_plots);
    for (int x = 0; x < PARAM_AXIS_COUNT; x++) FUZZ_CHECK(a->axes[x].n == b->axes[x].n);
}

static inline void fuzz_ini_load_check(const char *path) {
    exp_config *c = calloc(2, sizeof *c);
    if (!c) abort();
    ah_err e = {{0}};
    if (exp_config_load(&c[0], path, &e)) {
        FUZZ_CHECK(e.msg[0] != '\0');
    } else {
        FUZZ_CHECK(c[0].ini_text && c[0].model_path[0] && c[0].eval_data[0]);
        FUZZ_CHECK(c[0].n_plots >= 0 && c[0].n_plots <= EXP_MAX_PLOTS);
        for (int x = 0; x < PARAM_AXIS_COUNT; x++)
            FUZZ_CHECK(c[0].axes[x].n >= 0 && c[0].axes[x].n <= EXP_MAX_VALUES);
        for (int i = 0; i < c[0].n_plots; i++)
            FUZZ_CHECK(c[0].plots[i].n >= 0 && c[0].plots[i].n <= EXP_MAX_PLOT_KEYS);
        ah_err e2 = {{0}};
        int rc = exp_config_load_string(&c[1], c[0].ini_text, path, &e2);
        if (rc) fprintf(stderr, "fuzz_ini: stored text does not parse again: %s\n", e2.msg);
        FUZZ_CHECK(rc == 0);
        fuzz_ini_same(&c[0], &c[1]);
        exp_config_free(&c[1]);
    }
    exp_config_free(&c[0]);
    free(c);
}

#endif
