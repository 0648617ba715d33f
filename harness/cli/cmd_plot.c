// cmd_plot.c — `awq-harness plot RESULTS.h5 [--only NAME] [--format png|svg|pdf] [--out DIR]`:
// figures from a results file, drawn by gnuplot over a pipe (plot/plot.h, docs/PLOTS.md).
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "plot/plot.h"

static void plot_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness plot RESULTS.h5 [options]\n"
            "\n"
            "  --only NAME        draw one plot: a standard kind or a [plot.NAME] of the experiment\n"
            "  --format FMT       png (default), svg or pdf\n"
            "  --ini FILE         also the [plot.NAME] sections of FILE, written after the run (one\n"
            "                     with a name the experiment has replaces it)\n"
            "  --out DIR          folder for the figures (default plots); they are written to\n"
            "                     DIR/<experiment>/<name>.<format>\n"
            "\n"
            "Standard plots, each drawn when the file holds what it needs (else skipped, saying why):\n"
            "  ppl_vs_alpha ppl_vs_group ppl_vs_bits kld_vs_bits acc_vs_bits salient_bars layer_alpha scale_hist\n"
            "  loss_vs_alpha ppl_vs_calib_samples ppl_vs_seed\n"
            "plus the [plot.NAME] sections of the experiment INI stored in the file. Needs gnuplot\n"
            "(gnuplot-nox) on PATH; the results file is only read. See docs/PLOTS.md.\n");
}

typedef struct {
    const char *only;
    int only_skipped;
} note_state;

static void on_note(void *ctx, plot_event ev, const char *name, const char *text) {
    note_state *st = ctx;
    switch (ev) {
    case PLOT_DRAWN: printf("drawn    %-16s %s\n", name, text); break;
    case PLOT_SKIPPED:
        printf("skipped  %-16s %s\n", name, text);
        if (st->only) st->only_skipped = 1;
        break;
    case PLOT_FAILED: cli_error("plot %s: %s", name, text); break;
    case PLOT_WARNING: cli_error("warning: %s", text); break;
    }
    fflush(stdout);
}

int cmd_plot(int argc, char **argv) {
    static const struct option opts[] = {
        {"only", required_argument, 0, 'n'}, {"format", required_argument, 0, 'f'},
        {"out", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'},
        {"ini", required_argument, 0, 'i'},
        {0, 0, 0, 0},
    };
    plot_opts o = {.fmt = GP_PNG, .out_dir = "plots"};
    note_state st = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o.only = optarg; break;
        case 'i': o.ini = optarg; break;
        case 'f':
            if (gp_format_parse(optarg, &o.fmt)) {
                cli_error("--format: expected png, svg or pdf, got '%s'", optarg);
                return 2;
            }
            break;
        case 'o':
            if (!*optarg) {
                cli_error("--out: expected a folder");
                return 2;
            }
            o.out_dir = optarg;
            break;
        case 'h': plot_usage(stdout); return 0;
        default: plot_usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        cli_error("plot: expected one results file (see 'awq-harness plot --help')");
        return 2;
    }
    o.results = argv[optind];
    st.only = o.only;
    o.note = on_note;
    o.ctx = &st;
    plot_counts n;
    ah_err e = {{0}};
    if (plot_results(&o, &n, &e)) {
        cli_error("%s", e.msg);
        return 1;
    }
    printf("%d drawn, %d skipped, %d failed (%s)\n", n.drawn, n.skipped, n.failed, o.results);
    if (n.failed) return 1;
    if (st.only_skipped) {
        cli_error("plot %s: not drawn (see the line above)", o.only);
        return 1;
    }
    return 0;
}
