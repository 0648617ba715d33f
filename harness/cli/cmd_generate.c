// cmd_generate.c — `awq-harness generate`: text from the FP model and, with --method, from the
// quantized one, one after the other, so the effect of quantization can be read.
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "text/inputs.h"
#include "cli/cli_opts.h"
#include "cli/method_opts.h"
#include "eval/generate.h"
#include "eval/gen_model.h"
#include "core/progress.h"
#include "model/model.h"
#include "packed/pmodel.h"
#include "text/tokenizer.h"

static void generate_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness generate --model PATH --prompt TEXT [options]\n"
            "\n"
            "  --model PATH        HuggingFace directory, llama2.c .bin or .gguf file\n"
            "  --tokenizer PATH    default: beside the model\n"
            "  --prompt TEXT       the text to continue\n"
            "  --max-new N         tokens to generate (default 64)\n"
            "  --top-k K           sample among the K most likely tokens (default 1: greedy)\n"
            "  --temperature T     sampling temperature with --top-k (default 1.0)\n"
            "  --seed S            sampling seed (default 0; also calibration's)\n"
            "  --threads N         OpenMP and BLAS threads\n"
            "  --packed            hold the quantized model as packed codes and compute its\n"
            "                      linears from them (default for an export of `quantize\n"
            "                      --format harness`, which holds them)\n"
            "  --no-packed         an export as fp32 fake-quantized weights instead\n"
            "  --recompute         no key/value cache: rerun the whole prefix for every token\n"
            "                      (the reference the cached generation is tested against)\n"
            "  --stats             after each text: prefill and decode tokens/s, latency per\n"
            "                      token (median, p90), peak memory; also as a key=value line\n"
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

// The --stats lines of one generation: words, then key=value pairs.
static void print_stats(const char *label, const gen_stats *st, const gen_model *g,
                        const model *m, int packed, int recompute) {
    double pf = st->prefill_s > 0 ? st->prefill_tokens / st->prefill_s : 0.0;
    double dc = st->decode_s > 0 ? st->decode_tokens / st->decode_s : 0.0;
    printf("stats (%s): prefill %d tokens %.1f tokens/s; decode %d tokens %.2f tokens/s, latency "
           "median %.2f ms p90 %.2f ms; weights %.1f MiB resident + LM head %.1f MiB; peak RSS "
           "%.1f MiB\n", label, st->prefill_tokens, pf, st->decode_tokens, dc,
           st->latency_median_ms, st->latency_p90_ms, (double)g->weight_bytes / (1 << 20),
           (double)gen_head_bytes(m) / (1 << 20), ah_peak_rss_mb());
    char key[96];   // the label as one word for the key=value line
    snprintf(key, sizeof key, "%s", label);
    for (char *c = key; *c; c++)
        if (*c == ' ') *c = '-';
    printf("model=%s prefill_tokens=%d prefill_tok_per_s=%.2f decode_tokens=%d "
           "decode_tok_per_s=%.3f latency_median_ms=%.3f latency_p90_ms=%.3f weight_bytes=%zu "
           "head_bytes=%zu kv_bytes=%zu peak_rss_mb=%.1f packed=%d kernel=%s kv_cache=%d "
           "threads=%d omp_wait=%s\n", key, st->prefill_tokens, pf, st->decode_tokens, dc,
           st->latency_median_ms, st->latency_p90_ms, g->weight_bytes, gen_head_bytes(m),
           st->kv_bytes, ah_peak_rss_mb(), packed,
           packed ? packed_kernel_name(packed_kernel_auto()) : "blas", !recompute,
           omp_get_max_threads(), omp_wait_policy());
}

static int parse_temperature(void *dst, const char *arg) {
    char *end;
    double t = strtod(arg, &end);
    if (end == arg || *end || !(t > 0 && t < 1e6)) {
        cli_error("--temperature: expected a positive number, got '%s'", arg);
        return -1;
    }
    *(double *)dst = t;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = NULL;
    int max_new = 64, top_k = 1, threads = 0, packed = -1, recompute = 0, stats = 0;
    double temperature = 1.0;
    const cli_opt own[] = {
        CLI_STR("model", &model_path),          CLI_STR("tokenizer", &tok_path),
        CLI_STR("prompt", &prompt),             CLI_INT("max-new", &max_new, 1, 1 << 16),
        CLI_INT("top-k", &top_k, 1, 1 << 24),
        CLI_FN("temperature", &temperature, parse_temperature),
        CLI_INT("threads", &threads, 1, 1024),  CLI_FLAG("packed", &packed, 1),
        CLI_FLAG("no-packed", &packed, 0),      CLI_FLAG("recompute", &recompute, 1),
        CLI_FLAG("stats", &stats, 1),
    };
    cli_method_opts mo;
    int parsed = cli_parse("generate", argc, argv, own, sizeof own / sizeof own[0], &mo, generate_usage);
    if (parsed) return cli_exit_code(parsed);
    if (!model_path || !prompt) {
        cli_error("generate: --model and --prompt are required (see 'awq-harness generate --help')");
        return 2;
    }
    cli_set_threads(threads);

    ah_err e = {{0}};
    int status = 1, n_prompt = 0, n_out = 0;
    model *m = NULL;
    tok_tokenizer *tok = NULL;
    gen_model g = {0};
    int32_t *ids = NULL, *out = NULL;
    size_t n_ids = 0;
    calib_set cs = {0};
    qpass *qp = NULL;
    packed_set *ps = NULL;
    char tpath[4096], dir[4096];
    if (!(m = model_load(model_path, &e))) goto fail;
    if (ds_tokenizer_path(tpath, sizeof tpath, model_path, tok_path, &e)) goto fail;
    if (!(tok = tok_load(tpath, &e))) goto fail;
    if (tok_encode(tok, prompt, strlen(prompt), 1, &ids, &n_ids, &e)) goto fail;
    n_prompt = (int)n_ids;
    out = malloc((size_t)max_new * sizeof *out);
    if (!out) {
        ah_fail(&e, "out of memory");
        goto fail;
    }
    // An export's codes: packed unless --no-packed (or a --method, which quantizes anew).
    int from_export = 0;
    if (mo.mc.kind == METHOD_FP16 && packed != 0) {
        int absent;
        packed_export_dir(dir, sizeof dir, model_path);
        ps = packed_set_load_export(m, dir, &absent, &e);
        if (!ps && !absent) goto fail;
        if (!ps && packed == 1) {
            ah_fail(&e, "--packed: %s holds no quantized.safetensors: give --method, or an export "
                    "of `quantize --format harness`", dir);
            goto fail;
        }
        from_export = ps != NULL;
    }
    gen_opts go = {.max_new = max_new, .top_k = top_k, .temperature = temperature,
                   .seed = mo.seed, .stop_id = tok_eos_id(tok)};
    printer pr = {.tok = tok};
    for (int pass = 0; pass < (mo.mc.kind == METHOD_FP16 ? 1 : 2); pass++) {
        packed_set *use = from_export ? ps : NULL;
        if (pass == 1) {
            if (cli_calib_set(&cs, &mo, tok, m, NULL, &e)) goto fail;
            if (!(qp = qpass_new(m, &mo.mc, cs.n ? &cs : NULL, &e))) goto fail;
            if (packed == 1) {
                if (!(ps = packed_set_new(m, &mo.mc.q, &e))) goto fail;
                qp->sink = packed_set_sink;
                qp->sink_ctx = ps;
                use = ps;
            }
            printf("\n");
            fflush(stdout);
            fprintf(stderr, "quantizing (%s, %d bits, group %d%s)...\n", method_name(mo.mc.kind),
                    mo.mc.q.bits, mo.mc.q.group, use ? ", packed" : "");
        }
        if (gen_model_build(&g, m, qp, use, &e)) goto fail;
        char label[96];
        if (from_export) {
            char gl[32];
            snprintf(label, sizeof label, "packed w%d %s", ps->q.bits,
                     quant_group_label(ps->q.group, gl, sizeof gl));
            printf("=== %s ===\n", label);
        } else if (pass == 0) {
            snprintf(label, sizeof label, "fp16");
            printf("=== fp16 ===\n");
        } else {
            char gl[32];
            snprintf(label, sizeof label, "%s w%d %s%s", method_name(mo.mc.kind), mo.mc.q.bits,
                     quant_group_label(mo.mc.q.group, gl, sizeof gl), use ? " packed" : "");
            printf("\n=== %s ===\n", label);
        }
        fputs(prompt, stdout);
        gen_stats st = {0};
        int rc = recompute ? gen_run(m, g.blocks, ids, n_prompt, &go, out, &n_out, print_token, &pr, &e)
                           : gen_run_kv(m, g.blocks, ids, n_prompt, &go, out, &n_out, print_token,
                                        &pr, &st, &e);
        if (rc) goto fail;
        if (stats) {
            printf("\n");
            if (recompute) fprintf(stderr, "--stats: timings are kept by the cached generation only\n");
            else print_stats(label, &st, &g, m, use != NULL, recompute);
        }
        gen_model_free(&g);
    }
    printf("\n");
    status = 0;
    goto done;
fail:
    printf("\n");
    cli_error("%s", e.msg);
done:
    gen_model_free(&g);
    qpass_free(qp);
    packed_set_free(ps);
    calib_set_free(&cs);
    free(out);
    free(ids);
    tok_free(tok);
    model_free(m);
    return status;
}
