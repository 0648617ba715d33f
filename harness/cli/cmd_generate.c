// cmd_generate.c — `awq-harness generate`: text from the FP model and, with --method, from the
// quantized one, one after the other, so the effect of quantization can be read.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "text/inputs.h"
#include "cli/method_opts.h"
#include "eval/generate.h"
#include "model/model.h"
#include "text/tokenizer.h"

static void generate_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness generate --model PATH --prompt TEXT [options]\n"
            "\n"
            "  --model PATH        HuggingFace directory or llama2.c .bin\n"
            "  --tokenizer PATH    default: beside the model\n"
            "  --prompt TEXT       the text to continue\n"
            "  --max-new N         tokens to generate (default 64)\n"
            "  --top-k K           sample among the K most likely tokens (default 1: greedy)\n"
            "  --temperature T     sampling temperature with --top-k (default 1.0)\n"
            "  --seed S            sampling seed (default 0; also calibration's)\n"
            "  --threads N         OpenMP and BLAS threads\n"
            "\n"
            "With a --method other than fp16 the FP text is printed first, then the quantized\n"
            "model's continuation of the same prompt with the same sampling seed.\n\n");
    cli_method_usage(f);
}

typedef struct {
    const tok_tokenizer *tok;
} printer;

static int print_token(void *ctx, int32_t id) {
    const printer *p = ctx;
    char buf[256];
    size_t n = tok_decode_piece(p->tok, id, buf, sizeof buf);
    fwrite(buf, 1, n, stdout);
    fflush(stdout);
    return 0;
}

// Loads every block in fp32 and, when qp is given, quantizes them in order.
static int load_blocks(block_f32 **blocks, const model *m, qpass *qp, ah_err *e) {
    for (int l = 0; l < m->cfg.n_layers; l++) {
        if (!(blocks[l] = block_f32_new(m, e)) || block_f32_load(blocks[l], m, l, e)) return -1;
        if (qp && qpass_block(qp, l, blocks[l], e)) return -1;
    }
    return 0;
}

static void free_blocks(block_f32 **blocks, int n) {
    for (int l = 0; l < n; l++) block_f32_free(blocks[l]);
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = NULL;
    int max_new = 64, top_k = 1, threads = 0;
    double temperature = 1.0;
    static const struct option own[] = {
        {"model", required_argument, 0, 'm'},  {"tokenizer", required_argument, 0, 't'},
        {"prompt", required_argument, 0, 'p'}, {"max-new", required_argument, 0, 'n'},
        {"top-k", required_argument, 0, 'k'},  {"temperature", required_argument, 0, 'T'},
        {"threads", required_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
    };
    enum { N_OWN = sizeof own / sizeof own[0] };
    struct option opts[N_OWN + CLI_METHOD_OPTION_COUNT + 1];
    cli_method_merge_options(opts, own, N_OWN);
    cli_method_opts mo;
    cli_method_defaults(&mo);
    int c, h;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 't': tok_path = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': if (cli_int("--max-new", optarg, 1, 1 << 16, &max_new)) return 2; break;
        case 'k': if (cli_int("--top-k", optarg, 1, 1 << 24, &top_k)) return 2; break;
        case 'j': if (cli_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'T': {
            char *end;
            temperature = strtod(optarg, &end);
            if (end == optarg || *end || !(temperature > 0 && temperature < 1e6)) {
                cli_error("--temperature: expected a positive number, got '%s'", optarg);
                return 2;
            }
            break;
        }
        case 'h': generate_usage(stdout); return 0;
        default:
            if ((h = cli_method_option(&mo, c, optarg)) < 0) return 2;
            if (h == 0) {
                generate_usage(stderr);
                return 2;
            }
        }
    }
    if (optind < argc) {
        cli_error("generate: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!model_path || !prompt) {
        cli_error("generate: --model and --prompt are required (see 'awq-harness generate --help')");
        return 2;
    }
    if (cli_method_finish(&mo)) return 2;
    cli_set_threads(threads);

    ah_err e = {{0}};
    int status = 1, n_prompt = 0, n_out = 0;
    model *m = NULL;
    tok_tokenizer *tok = NULL;
    block_f32 **blocks = NULL;
    int32_t *ids = NULL, *out = NULL;
    size_t n_ids = 0;
    calib_set cs = {0};
    qpass *qp = NULL;
    char tpath[4096];
    if (!(m = model_load(model_path, &e))) goto fail;
    if (ds_tokenizer_path(tpath, sizeof tpath, model_path, tok_path, &e)) goto fail;
    if (!(tok = tok_load(tpath, &e))) goto fail;
    if (tok_encode(tok, prompt, strlen(prompt), 1, &ids, &n_ids, &e)) goto fail;
    n_prompt = (int)n_ids;
    blocks = calloc((size_t)m->cfg.n_layers, sizeof *blocks);
    out = malloc((size_t)max_new * sizeof *out);
    if (!blocks || !out) {
        ah_fail(&e, "out of memory");
        goto fail;
    }
    gen_opts go = {.max_new = max_new, .top_k = top_k, .temperature = temperature,
                   .seed = mo.seed, .stop_id = tok_eos_id(tok)};
    printer pr = {.tok = tok};
    for (int pass = 0; pass < (mo.mc.kind == METHOD_FP16 ? 1 : 2); pass++) {
        if (pass == 1) {
            if (cli_calib_set(&cs, &mo, tok, m, NULL, &e)) goto fail;
            if (!(qp = qpass_new(m, &mo.mc, cs.n ? &cs : NULL, &e))) goto fail;
            printf("\n");
            fflush(stdout);
            fprintf(stderr, "quantizing (%s, %d bits, group %d)...\n", method_name(mo.mc.kind),
                    mo.mc.q.bits, mo.mc.q.group);
        }
        if (load_blocks(blocks, m, qp, &e)) goto fail;
        if (pass == 0) printf("=== fp16 ===\n");
        else {
            char g[32];
            printf("\n=== %s w%d %s ===\n", method_name(mo.mc.kind), mo.mc.q.bits,
                   quant_group_label(mo.mc.q.group, g, sizeof g));
        }
        fputs(prompt, stdout);
        if (gen_run(m, blocks, ids, n_prompt, &go, out, &n_out, print_token, &pr, &e)) goto fail;
        free_blocks(blocks, m->cfg.n_layers);
        memset(blocks, 0, (size_t)m->cfg.n_layers * sizeof *blocks);
    }
    printf("\n");
    status = 0;
    goto done;
fail:
    printf("\n");
    cli_error("%s", e.msg);
done:
    if (blocks) free_blocks(blocks, m->cfg.n_layers);
    free(blocks);
    qpass_free(qp);
    calib_set_free(&cs);
    free(out);
    free(ids);
    tok_free(tok);
    model_free(m);
    return status;
}
