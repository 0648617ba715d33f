// cli_opts.c — the table-driven option parser (cli_opts.h).
#include "cli/cli_opts.h"

#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"

// getopt codes: own row i is OPT_OWN + i (below method_opts.c's codes, which start at 1000).
enum { OPT_HELP = 'h', OPT_OWN = 256 };

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *own, size_t n_own,
              cli_method_opts *mo, void (*usage)(FILE *)) {
    if (n_own > CLI_OPTS_MAX) {   // a programming error: the table outgrew the array below
        fprintf(stderr, "internal error: %s has %zu options, CLI_OPTS_MAX is %d\n", cmd, n_own,
                CLI_OPTS_MAX);
        abort();
    }
    struct option base[CLI_OPTS_MAX + 1];
    for (size_t i = 0; i < n_own; i++)
        base[i] = (struct option){own[i].name,
                                  own[i].kind == CLI_OPT_FLAG ? no_argument : required_argument,
                                  0, OPT_OWN + (int)i};
    base[n_own] = (struct option){"help", no_argument, 0, OPT_HELP};
    size_t nb = n_own + 1;
    struct option opts[CLI_OPTS_MAX + 1 + CLI_METHOD_OPTION_COUNT + 1];
    if (mo) {
        cli_method_defaults(mo);
        cli_method_merge_options(opts, base, nb);
    } else {
        for (size_t i = 0; i < nb; i++) opts[i] = base[i];
        opts[nb] = (struct option){0, 0, 0, 0};
    }
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (c >= OPT_OWN && c < OPT_OWN + (int)n_own) {
            const cli_opt *o = &own[c - OPT_OWN];
            char flag[80];
            snprintf(flag, sizeof flag, "--%s", o->name);
            switch (o->kind) {
            case CLI_OPT_STR: *(const char **)o->dst = optarg; break;
            case CLI_OPT_INT:
                if (cli_int(flag, optarg, o->lo, o->hi, o->dst)) return CLI_EXIT_USAGE;
                break;
            case CLI_OPT_FLAG: *(int *)o->dst = o->lo; break;
            case CLI_OPT_FN:
                if (o->parse(o->dst, optarg)) return CLI_EXIT_USAGE;
                break;
            }
            continue;
        }
        int h = mo ? cli_method_option(mo, c, optarg) : 0;
        if (h < 0) return CLI_EXIT_USAGE;
        if (h == 0) {   // getopt printed "unrecognized option" (or a missing argument)
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("%s: unexpected argument '%s'", cmd, argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (mo && cli_method_finish(mo)) return CLI_EXIT_USAGE;
    return CLI_PARSED;
}
