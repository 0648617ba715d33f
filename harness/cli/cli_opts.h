// cli_opts.h — a command's options as a table, parsed by one driver (getopt_long underneath).
//
// Each command lists its own options as cli_opt rows; cli_parse adds --help and, for the
// commands that quantize (eval, tasks, quantize, generate, bench-generate), the method and
// calibration options of the parameter table (method_opts.h), parses argv, refuses stray
// arguments and checks the method options. What stays in the command: which options are
// required and the checks that combine several.
#ifndef AH_CLI_OPTS_H
#define AH_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/method_opts.h"

typedef enum {
    CLI_OPT_STR,    // const char **dst = optarg
    CLI_OPT_INT,    // int *dst = optarg in [lo, hi] (cli_int's message otherwise)
    CLI_OPT_FLAG,   // int *dst = lo (no argument): --quiet sets 1, --no-packed sets 0
    CLI_OPT_FN,     // parse(dst, optarg): 0, or -1 after printing its own error
} cli_opt_kind;

typedef struct {
    const char *name;   // the long option without "--"
    cli_opt_kind kind;
    void *dst;
    int lo, hi;         // CLI_OPT_INT: the accepted range; CLI_OPT_FLAG: lo is the value set
    int (*parse)(void *dst, const char *arg);
} cli_opt;

// Rows, by kind (designated initializers: the fields a kind does not use stay zero).
#define CLI_STR(n, d) {.name = (n), .kind = CLI_OPT_STR, .dst = (d)}
#define CLI_INT(n, d, l, h) {.name = (n), .kind = CLI_OPT_INT, .dst = (d), .lo = (l), .hi = (h)}
#define CLI_FLAG(n, d, v) {.name = (n), .kind = CLI_OPT_FLAG, .dst = (d), .lo = (v)}
#define CLI_FN(n, d, f) {.name = (n), .kind = CLI_OPT_FN, .dst = (d), .parse = (f)}

#define CLI_OPTS_MAX 32   // own options of one command

// What the command does next.
enum { CLI_PARSED = 0, CLI_EXIT_OK = 1, CLI_EXIT_USAGE = 2 };

// Parses argv[1..argc) for command cmd ("eval"). own: n_own rows; mo: the method options
// (initialised by cli_method_defaults here; NULL for a command without them); usage prints
// the command's help (--help: to stdout, then CLI_EXIT_OK; an unknown option: to stderr,
// then CLI_EXIT_USAGE). A bad value prints one error and returns CLI_EXIT_USAGE.
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *own, size_t n_own,
              cli_method_opts *mo, void (*usage)(FILE *));

// The process exit code for a cli_parse result other than CLI_PARSED.
static inline int cli_exit_code(int parsed) { return parsed == CLI_EXIT_OK ? 0 : 2; }

#endif
