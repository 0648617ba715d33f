// main.c — the awq-harness command line. The only place that prints errors and exits.
#include <gsl/gsl_errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#include "core/blas.h"
#include "core/version.h"

static void usage(FILE *f) {
    fprintf(f,
            "awq-harness %s — activation-aware weight quantization research harness\n"
            "\n"
            "usage: awq-harness COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  eval      perplexity of a checkpoint on a text source (optionally quantized)\n"
            "  quantize  quantize a checkpoint and write it (fake-quant + packed integers)\n"
            "  tokenize  token ids of a text source (for checking tokenizers)\n"
            "  run       run an experiment (INI sweep) into an HDF5 results file\n"
            "  merge     join results files (shards of a sweep) into one\n"
            "  submit    run an experiment on a Slurm cluster (job array + merge job)\n"
            "  search    AWQ searches split into block ranges (Slurm tasks), and their join\n"
            "  generate  continue a prompt with the FP and the quantized model\n"
            "  bench-generate  prefill and decode speed, memory of a model (fp32 or packed)\n"
            "  plot      figures from a results file (gnuplot): plots/<experiment>/*.png\n"
            "  report    paper-style table of a results file (md, tex, csv; published numbers)\n"
            "  synth     a checkpoint of seeded random weights at the shapes of a config.json\n"
            "  tasks     zero-shot tasks (HellaSwag, PIQA, ARC, Winogrande, LAMBADA, wikitext) as\n"
            "            lm-evaluation-harness scores them\n"
            "\n"
            "Run 'awq-harness COMMAND --help' for a command's options.\n",
            AH_VERSION);
}

// OpenMP threads waiting for work spin by default (libgomp, OMP_WAIT_POLICY unset: some
// 300,000 spins before they sleep). On a shared machine or a cluster node those spinning
// threads take the cores that the threads with work, and other jobs, need. libgomp reads the
// variable once, when it loads, so the harness sets it to passive and starts itself again; a
// value the user set is kept (OMP_WAIT_POLICY=active for a machine of one's own). If the exec
// fails the process goes on with the default, and `eval` reports the policy it runs with.
static void omp_wait_passive(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return;
    self[n] = '\0';
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv(self, argv);
    unsetenv("OMP_WAIT_POLICY");
}

int main(int argc, char **argv) {
    omp_wait_passive(argv);
    // Library code checks GSL's return codes itself; GSL must never abort the process.
    gsl_set_error_handler_off();
    // Past a file-size limit (ulimit -f) the kernel sends SIGXFSZ, whose default action kills
    // the process without a word. Ignored, the write fails with EFBIG instead and the store
    // reports it ("<file>: write failed: File too large"), as it does a full disk.
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("awq-harness %s\n", AH_VERSION);
        return 0;
    }
    // The BLAS kernel set, before the first BLAS call (core/blas.c: OpenBLAS's own choice
    // follows OPENBLAS_CORETYPE from the environment, or its CPU detection).
    ah_err e = {{0}};
    if (ah_blas_select(&e)) {
        cli_error("%s", e.msg);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "quantize") == 0) return cmd_quantize(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "merge") == 0) return cmd_merge(argc - 1, argv + 1);
    if (strcmp(cmd, "submit") == 0) return cmd_submit(argc - 1, argv + 1);
    if (strcmp(cmd, "search") == 0) return cmd_search(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0) return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "bench-generate") == 0) return cmd_bench_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0) return cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "synth") == 0) return cmd_synth(argc - 1, argv + 1);
    if (strcmp(cmd, "tasks") == 0) return cmd_tasks(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try --help)", cmd);
    return 2;
}
