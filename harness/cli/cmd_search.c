// cmd_search.c — `awq-harness search X.ini`: the AWQ searches of an experiment, split into
// block ranges that separate processes (Slurm tasks) compute, then joined into the cache
// entries every run of the experiment loads (experiment/split_search.h).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "experiment/split_search.h"

static void search_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness search EXPERIMENT.ini (--blocks FIRST:END | --part I/K | --join)\n"
            "\n"
            "  --blocks FIRST:END  search blocks FIRST .. END-1 (END empty: to the last block) of\n"
            "                      every AWQ search of the experiment; saved as parts under\n"
            "                      <cache>/awq/parts/\n"
            "  --part I/K          the same for part I of K: blocks [I*L/K, (I+1)*L/K) of L\n"
            "  --join              join the parts of every search into its cache entry\n"
            "                      <cache>/awq/<key>.h5, which every run of that search loads\n"
            "  --threads N         OpenMP and BLAS threads (default: [experiment] threads, else\n"
            "                      all); use the same N as a single-process search to get the\n"
            "                      same entry bit for bit\n"
            "  --quiet             no progress lines\n"
            "\n"
            "Needs propagate = fp (each block's search then depends only on the full-precision\n"
            "forward before it). A part or search already done is skipped. docs/CLUSTER.md.\n");
}

int cmd_search(int argc, char **argv) {
    static const struct option opts[] = {
        {"blocks", required_argument, 0, 'b'}, {"part", required_argument, 0, 'p'},
        {"join", no_argument, 0, 'J'},          {"threads", required_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int l0 = -1, l1 = -1, k = 0, join = 0, threads = 0, quiet = 0, modes = 0, c;
    char extra;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            modes++;
            if (sscanf(optarg, "%d:%d%c", &l0, &l1, &extra) == 2 && l0 >= 0 && l1 > l0) break;
            if (sscanf(optarg, "%d:%c", &l0, &extra) == 1 && l0 >= 0 && optarg[strlen(optarg) - 1] == ':') {
                l1 = -1;
                break;
            }
            cli_error("--blocks: expected FIRST:END with 0 <= FIRST < END (or FIRST:), got '%s'", optarg);
            return 2;
        case 'p':
            modes++;
            if (sscanf(optarg, "%d/%d%c", &l0, &k, &extra) != 2 || k < 1 || l0 < 0 || l0 >= k) {
                cli_error("--part: expected I/K with 0 <= I < K, got '%s'", optarg);
                return 2;
            }
            break;
        case 'J': modes++; join = 1; break;
        case 'j': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'q': quiet = 1; break;
        case 'h': search_usage(stdout); return 0;
        default: search_usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || modes != 1) {
        cli_error("search: expected one experiment file and one of --blocks, --part, --join "
                  "(see 'awq-harness search --help')");
        return 2;
    }
    ah_err e = {{0}};
    exp_config cfg;
    exp_plan plan;
    if (cli_load_experiment(argv[optind], &cfg, &plan)) return 2;
    cli_set_threads(threads ? threads : cfg.threads);
    int rc = join ? exp_search_join(&cfg, &plan, quiet, &e)
                  : exp_search_blocks(&cfg, &plan, l0, l1, k, quiet, &e);
    if (rc) cli_error("%s", e.msg);
    exp_plan_free(&plan);
    exp_config_free(&cfg);
    return rc ? 1 : 0;
}
