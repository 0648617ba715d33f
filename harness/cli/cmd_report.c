// cmd_report.c — `awq-harness report RESULTS.h5`: a paper-style table of a results file, with
// the published numbers beside ours when the experiment names them (docs/REPORTS.md).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "experiment/config.h"
#include "report/report.h"
#include "store/store.h"

static void report_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness report RESULTS.h5 [options]\n"
            "       awq-harness report RESULTS.h5 --compare A B\n"
            "\n"
            "  --format F         md (default) | tex | csv\n"
            "  --rows LIST        /summary columns that make a row (default: every run parameter\n"
            "                     not in --cols; labels show those that vary: \"AWQ (duo)\", \"s=2\")\n"
            "  --cols LIST        /summary columns that make a column (default bits,group_size)\n"
            "  --metric M         the cell value: ppl (default) | nll | kld (mean KL divergence\n"
            "                     from FP16) | kld_median | kld_p99 | top1_agree | dp_mean |\n"
            "                     seconds | awq_seconds | acc:TASK | acc_norm:TASK | ppl:lambada |\n"
            "                     word_perplexity:wikitext | weight_bytes | decode_tok_s |\n"
            "                     prefill_tok_s | peak_rss_mb (any numeric /summary column)\n"
            "  --digits N         decimals (default 2, KLD metrics 4; csv 4, KLD 6)\n"
            "  --published FILE   published numbers to print beside ours (default: the file the\n"
            "                     experiment's [experiment] published names, if any)\n"
            "  --no-published     do not compare with published numbers\n"
            "  --ci               md and tex cells show value +- standard error (ppl, kld)\n"
            "  --filter K=V[,V]   only runs whose /summary column K is one of the values\n"
            "                     (repeatable: all must hold; bits=3, method=awq,rtn, alpha=search)\n"
            "  --label L          tex: the table's \\label (default tab:EXPERIMENT-METRIC)\n"
            "  --compare A B      instead of a table: run B minus run A (ids), paired over the\n"
            "                     windows both scored, with 95%% bootstrap intervals\n"
            "\n"
            "Rows are methods, columns (bits, group) combinations, cells perplexities; the FP16\n"
            "run is the reference row. The best quantized value per column is marked (bold in\n"
            "md and tex, '*' in csv) only where it beats the runner-up with 95%% confidence\n"
            "(paired bootstrap over the evaluation windows; ppl, nll, kld). The published-numbers\n"
            "format and examples are in docs/REPORTS.md, the intervals in docs/UNCERTAINTY.md.\n");
}

// The published-numbers file the experiment stored in the results file names, "" if none.
// Notes (not errors) go to stderr: a report without the comparison is still a report.
static void published_from_ini(const store_summary *s, const char *results, char *out, size_t cap) {
    out[0] = '\0';
    if (!s->experiment_ini || !strstr(s->experiment_ini, "published")) return;
    exp_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return;
    ah_err e = {{0}};
    char name[1200];
    snprintf(name, sizeof name, "%s:experiment_ini", results);
    if (exp_config_load_stored(cfg, s->experiment_ini, name, &e)) {
        fprintf(stderr, "note: cannot parse the experiment stored in %s (%s); no published "
                        "numbers (give --published FILE)\n", results, e.msg);
    } else if (cfg->published[0]) {
        snprintf(out, cap, "%s", cfg->published);
    }
    exp_config_free(cfg);
    free(cfg);
}

int cmd_report(int argc, char **argv) {
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'},  {"rows", required_argument, 0, 'r'},
        {"cols", required_argument, 0, 'c'},    {"metric", required_argument, 0, 'm'},
        {"digits", required_argument, 0, 'd'},  {"published", required_argument, 0, 'p'},
        {"no-published", no_argument, 0, 'P'},  {"help", no_argument, 0, 'h'},
        {"ci", no_argument, 0, 'C'},            {"compare", required_argument, 0, 'x'},
        {"filter", required_argument, 0, 'F'},  {"label", required_argument, 0, 'L'},
        {0, 0, 0, 0},
    };
    report_format fmt = REPORT_MD;
    report_opts ro = {0};
    const char *published = NULL, *cmp_a = NULL;
    int digits = -1, no_pub = 0, c, n_filters = 0;
    const char *filters[32];
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (report_format_parse(optarg, &fmt)) {
                cli_error("--format: expected md, tex or csv, got '%s'", optarg);
                return 2;
            }
            break;
        case 'r': ro.rows = optarg; break;
        case 'c': ro.cols = optarg; break;
        case 'm': ro.metric = optarg; break;
        case 'd': if (cli_int("--digits", optarg, 0, 12, &digits)) return 2; break;
        case 'p': published = optarg; break;
        case 'P': no_pub = 1; break;
        case 'C': ro.ci = 1; break;
        case 'x': cmp_a = optarg; break;
        case 'L': ro.label = optarg; break;
        case 'F':
            if (n_filters == 32) {
                cli_error("--filter: at most 32");
                return 2;
            }
            filters[n_filters++] = optarg;
            break;
        case 'h': report_usage(stdout); return 0;
        default: report_usage(stderr); return 2;
        }
    }
    // `report RESULTS --compare A B`: getopt takes A, and leaves B after the results file
    // (operands keep their order).
    int want = cmp_a ? 2 : 1;
    const char *path = argc - optind == want ? argv[optind] : NULL;
    const char *cmp_b = cmp_a && path ? argv[optind + 1] : NULL;
    if (!path) {
        cli_error(cmp_a ? "report --compare: expected two run ids and one results file"
                        : "report: expected one results file (see 'awq-harness report --help')");
        return 2;
    }
    ah_err e = {{0}};
    store_summary s;
    if (store_summary_read(path, &s, &e)) {
        cli_error("%s", e.msg);
        return 1;
    }
    // --filter: the table (and --compare) see only the matching runs. all keeps the file's
    // rows for freeing; s becomes the view.
    store_summary all = s;
    if (n_filters) {
        if (report_filter(&s, &all, filters, n_filters, &e)) {
            cli_error("%s: %s", path, e.msg);
            store_summary_free(&all);
            return 2;
        }
    }
    int status = 1;
    report_table t = {0};
    report_published pub = {0};
    ah_buf out = {0};
    char model[256] = "", pub_path[EXP_PATH_MAX] = "";
    if (s.n > 0) {
        ah_err ignore;
        if (store_run_attr_str_get(path, s.rows[0].id, "", "model_name", model, sizeof model, &ignore))
            model[0] = '\0';
    }
    if (cmp_a) {
        if (report_compare(&out, path, &s, cmp_a, cmp_b, &e)) {
            cli_error("%s", e.msg);
            goto done;
        }
        fputs(out.p, stdout);
        status = 0;
        goto done;
    }
    ro.model = model;
    ro.file = path;
    if (report_build(&t, &s, &ro, &e)) {
        cli_error("%s: %s", path, e.msg);
        goto done;
    }
    const char *metric = ro.metric ? ro.metric : "ppl";
    report_file_windows fw = {.path = path, .s = &s, .dataset = report_window_dataset(metric)};
    if (report_mark_confident(&t, &s, metric, report_windows_file, &fw, &e)) {
        cli_error("%s: %s", path, e.msg);
        goto done;
    }
    if (!no_pub) {
        if (published) {
            snprintf(pub_path, sizeof pub_path, "%s", published);
        } else {
            published_from_ini(&s, path, pub_path, sizeof pub_path);
            if (pub_path[0] && access(pub_path, R_OK) != 0) {
                fprintf(stderr, "note: the experiment's published numbers %s are not readable from "
                                "here (paths are relative to the directory the harness runs in; "
                                "give --published FILE)\n", pub_path);
                pub_path[0] = '\0';
            }
        }
    }
    if (pub_path[0]) {
        if (report_published_load(&pub, pub_path, &e) || report_attach_published(&t, &s, &pub, &e)) {
            if (!published) ah_wrap(&e, "%s: [experiment] published", path);   // who named the file
            cli_error("%s", e.msg);
            goto done;
        }
    }
    if (report_render(&out, &t, fmt, digits, &e)) {
        cli_error("%s", e.msg);
        goto done;
    }
    fputs(out.p ? out.p : "", stdout);
    // CSV stays a pure table: its sources and notes go to stderr.
    if (fmt == REPORT_CSV) {
        for (int i = 0; i < t.n_sources; i++) {
            if (t.n_sources == 1) fprintf(stderr, "paper: %s\n", t.sources[i]);
            else fprintf(stderr, "[%d] %s\n", i + 1, t.sources[i]);
        }
        if (t.notes.p) fputs(t.notes.p, stderr);
    }
    status = 0;
done:
    free(out.p);
    report_published_free(&pub);
    report_table_free(&t);
    if (n_filters) free(s.rows);
    store_summary_free(&all);
    return status;
}
