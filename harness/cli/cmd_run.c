// cmd_run.c — `awq-harness run X.ini`: plan an experiment's sweep and run it, committing each
// run to the HDF5 results file as it completes; and `awq-harness merge OUT SHARDS...`.
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "experiment/export_step.h"
#include "experiment/runner.h"
#include "experiment/slurm.h"
#include "store/store.h"

static volatile sig_atomic_t g_stop = 0;

// First SIGINT: abandon the current run at the next block boundary and stop cleanly (every
// completed run is already committed). Second: leave at once — the results file is still
// whole, because it is only ever replaced by rename.
static void on_sigint(int sig) {
    (void)sig;
    if (g_stop) _exit(130);
    g_stop = 1;
}

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness run EXPERIMENT.ini [options]\n"
            "\n"
            "  --dry-run          list the planned runs and exit\n"
            "  --keys             with --dry-run: also load and hash the model and data, and list\n"
            "                     each run's cache keys (run key, AWQ-search key) instead\n"
            "  --resume           skip runs already complete in the results file (default)\n"
            "  --no-resume        recompute runs even if complete (records are replaced)\n"
            "  --no-cache         neither read nor write the content-keyed caches\n"
            "  --shard I/N        run every N-th planned run starting at I (0 <= I < N); the\n"
            "                     default output becomes results/NAME.shard-I-of-N.h5\n"
            "  --output FILE      results file (default: [experiment] output or results/NAME.h5)\n"
            "  --threads N        OpenMP and BLAS threads (default: [experiment] threads, else all)\n"
            "  --quiet            no progress output (the final table is still printed)\n"
            "\n"
            "The experiment file format is in docs/EXPERIMENTS.md; the results schema in\n"
            "results/README.md. Ctrl-C stops after committing every completed run.\n");
}

static int parse_shard(const char *s, int *i, int *n) {
    char extra;
    if (sscanf(s, "%d/%d%c", i, n, &extra) != 2 || *n < 1 || *i < 0 || *i >= *n) {
        cli_error("--shard: expected I/N with 0 <= I < N, got '%s'", s);
        return -1;
    }
    return 0;
}

int cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"dry-run", no_argument, 0, 'n'},   {"resume", no_argument, 0, 'r'},
        {"no-resume", no_argument, 0, 'R'}, {"no-cache", no_argument, 0, 'C'},
        {"shard", required_argument, 0, 's'}, {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 'j'}, {"quiet", no_argument, 0, 'q'},
        {"keys", no_argument, 0, 'k'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int dry = 0, keys = 0, shard_i = 0, shard_n = 0, threads = 0, c;
    exp_run_opts o = {.resume = 1, .use_cache = 1, .stop = &g_stop};
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': dry = 1; break;
        case 'k': keys = 1; break;
        case 'r': o.resume = 1; break;
        case 'R': o.resume = 0; o.use_cache = 0; break;
        case 'C': o.use_cache = 0; break;
        case 's': if (parse_shard(optarg, &shard_i, &shard_n)) return 2; break;
        case 'o': o.output = optarg; break;
        case 'j': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'q': o.quiet = 1; break;
        case 'h': run_usage(stdout); return 0;
        default: run_usage(stderr); return 2;
        }
    }
    if (keys && !dry) {
        cli_error("run: --keys goes with --dry-run");
        return 2;
    }
    if (optind != argc - 1) {
        cli_error("run: expected one experiment file (see 'awq-harness run --help')");
        return 2;
    }
    ah_err e = {{0}};
    exp_config cfg;
    exp_plan plan;
    int status = 1;
    if (cli_load_experiment(argv[optind], &cfg, &plan)) return 2;
    int total = plan.n;
    char shard_out[EXP_PATH_MAX + 64];
    if (shard_n > 0) {
        exp_plan_shard(&plan, shard_i, shard_n);
        if (!o.output) {   // (the name `submit`'s merge job looks for)
            // Exports go where the unsharded run puts them, not beside the shard's file.
            if (cfg.n_exports && !cfg.export_dir[0])
                exp_export_dir(&cfg, cfg.output, cfg.export_dir, sizeof cfg.export_dir);
            exp_shard_path(shard_out, sizeof shard_out, cfg.output, shard_i, shard_n);
            o.output = shard_out;
        }
    }
    if (dry) {
        printf("experiment %s (%s): %d planned runs", cfg.name, cfg.source, total);
        if (shard_n) printf(", shard %d/%d runs %d of them", shard_i, shard_n, plan.n);
        char swept[128];   // the input axes of [sweep] that have values (data_axes.h)
        if (exp_input_keys_list(&cfg, swept, sizeof swept))
            printf("\n%d inputs (%s crossed: each run's line names its values)\nresults %s\n\n",
                   plan.n_inputs, swept, o.output ? o.output : cfg.output);
        else
            printf("\nmodel %s, eval %s%s%s\nresults %s\n\n", cfg.model_path, cfg.eval_data,
                   cfg.calib[0] ? ", calibration " : "", cfg.calib, o.output ? o.output : cfg.output);
        if (cfg.n_exports) {   // the formats' checks need the model: --keys (or the run) makes them
            char where[EXP_PATH_MAX + 300];
            exp_export_path(&cfg, o.output ? o.output : cfg.output, "<run id>", "<format>", where,
                            sizeof where);
            printf("export");
            for (int i = 0; i < cfg.n_exports; i++) printf("%s %s", i ? "," : "", cfg.export_formats[i]);
            printf(" into %s%s\n\n", where, keys ? "" : " (checked against each run with --keys)");
        }
        if (keys) {
            status = exp_print_keys(&cfg, &plan, stdout, &e) ? 1 : 0;
            if (status) cli_error("%s", e.msg);
            goto done;
        }
        for (int i = 0; i < plan.n; i++) {
            char desc[320], in[256];
            exp_run_describe(&plan.runs[i].mc, desc, sizeof desc);
            exp_input_describe(&cfg, &plan.inputs[plan.runs[i].input],
                               param_applies(&plan.runs[i].mc, PARAM_CALIB_SAMPLES), in, sizeof in);
            printf("%4d  %-36s %s%s%s\n", plan.runs[i].index, plan.runs[i].id, desc,
                   in[0] ? " " : "", in);
        }
        status = 0;
        goto done;
    }
    cli_set_threads(threads ? threads : cfg.threads);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = exp_execute(&cfg, &plan, &o, &e);
    if (rc < 0) cli_error("%s", e.msg);
    status = rc == 0 ? 0 : rc == 1 ? 130 : 1;
done:
    exp_plan_free(&plan);
    exp_config_free(&cfg);
    return status;
}

int cmd_merge(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: awq-harness merge OUT.h5 SHARD.h5...\n\n"
               "Joins the complete runs of results files (e.g. the shards of `run --shard`) into\n"
               "OUT.h5, written atomically. An existing OUT.h5 is merged into: its runs are kept.\n"
               "The same run in two files must have the same key.\n");
        return 0;
    }
    if (argc < 3) {
        cli_error("merge: expected OUT.h5 and at least one results file");
        return 2;
    }
    ah_err e = {{0}};
    int existed = access(argv[1], F_OK) == 0;
    if (store_merge(argv[1], (const char *const *)argv + 2, argc - 2, &e)) {
        cli_error("%s", e.msg);
        return 1;
    }
    store_summary s;
    if (store_summary_read(argv[1], &s, &e) == 0) {
        printf("%s: %d runs from %d files%s\n", argv[1], s.n, argc - 2,
               existed ? " merged into the runs it held" : "");
        store_summary_free(&s);
    }
    return 0;
}
