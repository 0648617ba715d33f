// cmd_tasks.c — `awq-harness tasks`: zero-shot tasks scored as lm-eval scores them
// (eval/tasks.h, docs/TASKS.md), for the FP model or a quantized one.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "cli/method_opts.h"
#include "core/progress.h"
#include "eval/tasks.h"
#include "model/model.h"
#include "text/inputs.h"
#include "text/tokenizer.h"

static void tasks_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness tasks --model PATH --tasks NAME:FILE[,NAME:FILE...] [options]\n"
            "\n"
            "  --model PATH        HuggingFace directory (config.json + safetensors), llama2.c .bin\n"
            "                      or .gguf file\n"
            "  --tokenizer PATH    tokenizer (default: the model directory; a .gguf: the file)\n"
            "  --tasks LIST        comma-separated NAME:FILE, FILE a JSON-lines export of the\n"
            "                      dataset; NAME one of:");
    for (size_t i = 0; i < task_table_n; i++) fprintf(f, " %s", task_table[i].name);
    fprintf(f,
            "\n"
            "  --max-items N       the first N documents of each file only\n"
            "  --samples FILE      per-item log-likelihoods as JSON lines (task, doc, ll[],\n"
            "                      greedy[], gold, acc, acc_norm; rolling: ll, words, bytes)\n"
            "  --threads N         OpenMP and BLAS threads (default: all cores)\n"
            "  --quiet             no progress output\n"
            "\n");
    cli_method_usage(f);
    fprintf(f, "\nOne line per task; its last field group is machine-readable key=value pairs.\n");
}

static void write_samples(FILE *f, const task_result *r) {
    for (size_t i = 0; i < r->n; i++) {
        const task_item *it = &r->items[i];
        fprintf(f, "{\"task\": \"%s\", \"doc\": %zu, \"ll\": [", r->def->name, i);
        for (int j = 0; j < it->nchoice; j++) fprintf(f, "%s%.9g", j ? ", " : "", it->ll[j]);
        fprintf(f, "], \"greedy\": [");
        for (int j = 0; j < it->nchoice; j++) fprintf(f, "%s%d", j ? ", " : "", it->greedy[j]);
        if (r->def->kind == TASK_ROLLING)
            fprintf(f, "], \"words\": %ld, \"bytes\": %ld, \"tokens\": %ld}\n", it->words,
                    it->bytes, it->tokens);
        else
            fprintf(f, "], \"gold\": %d, \"acc\": %g, \"acc_norm\": %g}\n", it->gold, it->acc,
                    it->acc_norm);
    }
}

static void print_result(const task_result *r) {
    const task_def *t = r->def;
    switch (t->kind) {
    case TASK_MC:
    case TASK_PARTIAL:
        printf("%s: acc %.4f +/- %.4f, acc_norm %.4f +/- %.4f (%zu items, %zu requests, %.2f s)\n",
               t->name, r->acc, r->acc_se, r->acc_norm, r->acc_norm_se, r->n, r->requests,
               r->seconds);
        printf("task=%s items=%zu acc=%.6f acc_stderr=%.6f acc_norm=%.6f acc_norm_stderr=%.6f\n",
               t->name, r->n, r->acc, r->acc_se, r->acc_norm, r->acc_norm_se);
        break;
    case TASK_LAST_WORD:
        printf("%s: acc %.4f +/- %.4f, perplexity %.4f (%zu items, %.2f s)\n", t->name, r->acc,
               r->acc_se, r->ppl, r->n, r->seconds);
        printf("task=%s items=%zu acc=%.6f acc_stderr=%.6f ppl=%.6f\n", t->name, r->n, r->acc,
               r->acc_se, r->ppl);
        break;
    case TASK_ROLLING:
        printf("%s: word_perplexity %.4f, byte_perplexity %.4f, bits_per_byte %.4f (%zu "
               "documents, %ld words, %ld bytes, %ld tokens, %zu windows, %.2f s)\n", t->name,
               r->word_ppl, r->byte_ppl, r->bits_per_byte, r->n, r->words, r->bytes, r->tokens,
               r->requests, r->seconds);
        printf("task=%s items=%zu word_perplexity=%.8f byte_perplexity=%.8f bits_per_byte=%.8f "
               "words=%ld bytes=%ld tokens=%ld\n", t->name, r->n, r->word_ppl, r->byte_ppl,
               r->bits_per_byte, r->words, r->bytes, r->tokens);
        break;
    }
}

int cmd_tasks(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *tasks = NULL, *samples = NULL;
    int threads = 0, quiet = 0, max_items = 0;
    const cli_opt own[] = {
        CLI_STR("model", &model_path),   CLI_STR("tokenizer", &tok_path),
        CLI_STR("tasks", &tasks),        CLI_INT("max-items", &max_items, 1, 1 << 30),
        CLI_STR("samples", &samples),    CLI_INT("threads", &threads, 1, 1024),
        CLI_FLAG("quiet", &quiet, 1),
    };
    cli_method_opts mo;
    int parsed = cli_parse("tasks", argc, argv, own, sizeof own / sizeof own[0], &mo, tasks_usage);
    if (parsed) return cli_exit_code(parsed);
    if (!model_path || !tasks) {
        cli_error("tasks: --model and --tasks are required (see 'awq-harness tasks --help')");
        return 2;
    }
    cli_set_threads(threads);

    ah_err e = {{0}};
    int status = 1;
    model *m = NULL;
    tok_tokenizer *tok = NULL;
    calib_set cs = {0};
    qpass *qp = NULL;
    FILE *sf = NULL;
    task_result *res = NULL;
    size_t nres = 0;
    char *list = strdup(tasks);
    char tpath[4096];
    if (!list) {
        ah_fail(&e, "out of memory");
        goto fail;
    }
    if (!(m = model_load(model_path, &e))) goto fail;
    if (ds_tokenizer_path(tpath, sizeof tpath, model_path, tok_path, &e)) goto fail;
    if (!(tok = tok_load(tpath, &e))) goto fail;
    if (tok_vocab_size(tok) > m->cfg.vocab_size) {
        ah_fail(&e, "%s: tokenizer has %d tokens but the model's vocabulary is %d", tpath,
                tok_vocab_size(tok), m->cfg.vocab_size);
        goto fail;
    }
    if (samples && !(sf = fopen(samples, "w"))) {
        ah_fail(&e, "%s: cannot write the samples file", samples);
        goto fail;
    }
    if (cli_calib_set(&cs, &mo, tok, m, NULL, &e)) goto fail;
    // One pass over the blocks for every task: the method quantizes each block once.
    const char *specs[64];
    size_t n = 0;
    for (char *save = NULL, *spec = strtok_r(list, ",", &save); spec;
         spec = strtok_r(NULL, ",", &save)) {
        if (n == sizeof specs / sizeof specs[0]) {
            ah_fail(&e, "--tasks: at most %zu tasks", n);
            goto fail;
        }
        specs[n++] = spec;
    }
    if (mo.mc.kind != METHOD_FP16 && !(qp = qpass_new(m, &mo.mc, cs.n ? &cs : NULL, &e))) goto fail;
    ll_opts lo = {.quiet = quiet, .block_fn = qp ? qpass_block : NULL, .block_ctx = qp};
    if (!(res = calloc(n ? n : 1, sizeof *res))) {
        ah_fail(&e, "out of memory");
        goto fail;
    }
    if (task_run_many(res, specs, n, m, tok, &lo, (size_t)max_items, &e)) goto fail;
    nres = n;
    for (size_t i = 0; i < n; i++) {
        print_result(&res[i]);
        if (sf) write_samples(sf, &res[i]);
    }
    if (sf && fclose(sf)) {
        sf = NULL;
        ah_fail(&e, "%s: write failed", samples);
        goto fail;
    }
    sf = NULL;
    status = 0;
    goto done;
fail:
    cli_error("%s", e.msg);
done:
    if (sf) fclose(sf);
    for (size_t i = 0; i < nres; i++) task_result_free(&res[i]);
    free(res);
    free(list);
    qpass_free(qp);
    calib_set_free(&cs);
    tok_free(tok);
    model_free(m);
    return status;
}
