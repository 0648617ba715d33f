// cli.h — the subcommands main.c dispatches to. Each returns the process exit status and
// prints its own errors (one line, "awq-harness: ..."); library code below them never prints.
#ifndef AH_CLI_H
#define AH_CLI_H

#include "experiment/config.h"
#include "experiment/sweep.h"

int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench_generate(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_tasks(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_submit(int argc, char **argv);

// Shared helpers for subcommands.
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Sets OpenMP and OpenBLAS thread counts (n <= 0: leave the defaults).
void cli_set_threads(int n);
// The OpenMP wait policy this process runs with (main.c sets passive unless the user chose):
// the value of OMP_WAIT_POLICY, or "default".
const char *omp_wait_policy(void);
// Parses a positive int option value; prints an error naming the option otherwise.
int cli_int(const char *opt, const char *val, int lo, int hi, int *out);
// Loads experiment file path and builds its plan (run, search, submit): 0, or 2 after printing
// the error (nothing left to free).
int cli_load_experiment(const char *path, exp_config *cfg, exp_plan *plan);

#endif
