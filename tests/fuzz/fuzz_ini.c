// fuzz_ini.c — the experiment INI parser (harness/experiment/config.c: inih reader, sections,
// ${VAR} expansion, sweep lists and ranges, plot sections, include).
//
// Input: INI text, written to <private dir>/fuzz.ini and parsed with exp_config_load as `run`
// does (file reader, long-line check; a relative include looks in the private directory, where
// only fuzz.ini itself lies). Inputs naming /dev, /proc or /sys are skipped: `include =
// /dev/stdin` would block on a read, which is the user's request and not a parser bug.
// Checks on success: counts within their arrays, and the stored text (c->ini_text, kept in
// results files) parses on its own (exp_config_load_string, the string reader) to the same
// experiment.
#include <string.h>

#include "experiment/config.h"
#include "fuzz_util.h"

static void check_same(const exp_config *a, const exp_config *b) {
    FUZZ_CHECK(strcmp(a->model_path, b->model_path) == 0);
    FUZZ_CHECK(strcmp(a->eval_data, b->eval_data) == 0);
    FUZZ_CHECK(strcmp(a->output, b->output) == 0);
    FUZZ_CHECK(a->n_plots == b->n_plots);
    for (int x = 0; x < AX_COUNT; x++) FUZZ_CHECK(a->axes[x].n == b->axes[x].n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
        memmem(data, size, "/sys", 4))
        return 0;
    char name[600];
    snprintf(name, sizeof name, "%s", fuzz_write_file("fuzz.ini", data, size));
    exp_config *c = calloc(2, sizeof *c);
    if (!c) abort();
    ah_err e = {{0}};
    if (exp_config_load(&c[0], name, &e)) {
        FUZZ_CHECK(e.msg[0] != '\0');
    } else {
        FUZZ_CHECK(c[0].ini_text && c[0].model_path[0] && c[0].eval_data[0]);
        FUZZ_CHECK(c[0].n_plots >= 0 && c[0].n_plots <= EXP_MAX_PLOTS);
        for (int x = 0; x < AX_COUNT; x++)
            FUZZ_CHECK(c[0].axes[x].n >= 0 && c[0].axes[x].n <= EXP_MAX_VALUES);
        for (int i = 0; i < c[0].n_plots; i++)
            FUZZ_CHECK(c[0].plots[i].n >= 0 && c[0].plots[i].n <= EXP_MAX_PLOT_KEYS);
        ah_err e2 = {{0}};
        int rc = exp_config_load_string(&c[1], c[0].ini_text, name, &e2);
        if (rc) fprintf(stderr, "fuzz_ini: stored text does not parse again: %s\n", e2.msg);
        FUZZ_CHECK(rc == 0);
        check_same(&c[0], &c[1]);
        exp_config_free(&c[1]);
    }
    exp_config_free(&c[0]);
    free(c);
    return 0;
}
