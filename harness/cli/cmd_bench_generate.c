// cmd_bench_generate.c — `awq-harness bench-generate`: how fast and in how much memory a model
// (fp32, fake-quantized or packed) generates, as llama-bench measures it: a prompt of
// --prompt-tokens seeded random ids (pp), then --gen-tokens greedy tokens (tg), --reps times;
// medians over the repetitions. No tokenizer needed (synthetic checkpoints have none).
#include <getopt.h>
#include <gsl/gsl_rng.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "eval/gen_model.h"
#include "cli/method_opts.h"
#include "core/blas.h"
#include "core/progress.h"
#include "core/quantile.h"
#include "eval/generate.h"
#include "model/model.h"
#include "packed/pmodel.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness bench-generate --model PATH [options]\n"
            "\n"
            "  --model PATH          HuggingFace directory, llama2.c .bin or .gguf (an export of\n"
            "                        `quantize --format harness` runs packed by default)\n"
            "  --prompt-tokens N     prompt length (default 128; seeded random ids)\n"
            "  --gen-tokens N        tokens generated greedily, never stopping early (default 128)\n"
            "  --reps N              repetitions; medians are reported (default 3)\n"
            "  --warmup N            untimed runs first: the prompt and one token (default 1,\n"
            "                        as llama-bench; 0: the first repetition runs cold)\n"
            "  --packed              with --method: the linears as packed codes\n"
            "  --no-packed           an export as fp32 fake-quantized weights\n"
            "  --threads N           OpenMP and BLAS threads\n"
            "  --seed S              prompt ids (and calibration) seed (default 0)\n"
            "\n"
            "Prints one line per repetition, then a key=value line: prefill_tok_per_s,\n"
            "decode_tok_per_s (medians), latency_median_ms, latency_p90_ms (of all decoded\n"
            "tokens), weight_bytes (resident blocks), head_bytes, bytes_per_token (what decoding\n"
            "reads per token: weights + LM head) and read_gb_per_s (bytes_per_token x\n"
            "decode_tok_per_s), peak_rss_mb, omp_wait (the OpenMP wait policy; README \"Batch\n"
            "jobs\": decoding is 3x faster spinning, OMP_WAIT_POLICY=active).\n\n");
    cli_method_usage(f);
}

int cmd_bench_generate(int argc, char **argv) {
    const char *model_path = NULL;
    int pp = 128, tg = 128, reps = 3, warmup = 1, threads = 0, packed = -1;
    const cli_opt own[] = {
        CLI_STR("model", &model_path),
        CLI_INT("prompt-tokens", &pp, 1, 1 << 20),
        CLI_INT("gen-tokens", &tg, 1, 1 << 20), CLI_INT("reps", &reps, 1, 1000),
        CLI_INT("warmup", &warmup, 0, 1000),
        CLI_INT("threads", &threads, 1, 1024),  CLI_FLAG("packed", &packed, 1),
        CLI_FLAG("no-packed", &packed, 0),
    };
    cli_method_opts mo;
    int parsed = cli_parse("bench-generate", argc, argv, own, sizeof own / sizeof own[0], &mo, usage);
    if (parsed) return cli_exit_code(parsed);
    if (!model_path) {
        cli_error("bench-generate: --model is required (see 'awq-harness bench-generate --help')");
        return 2;
    }
    if (mo.calib) {
        cli_error("bench-generate: --calib needs a tokenizer; measure methods without calibration "
                  "(rtn, minmax, gptq-rtn) or an export");
        return 2;
    }
    cli_set_threads(threads);

    ah_err e = {{0}};
    int status = 1;
    model *m = NULL;
    gen_model g = {0};
    qpass *qp = NULL;
    packed_set *ps = NULL;
    int32_t *prompt = NULL, *out = NULL;
    double *pf = NULL, *dc = NULL, *lmed = NULL, *lp90 = NULL;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char dir[4096];
    if (!(m = model_load(model_path, &e))) goto fail;
    if (pp + tg > m->cfg.max_seq) {
        ah_fail(&e, "--prompt-tokens %d + --gen-tokens %d exceed the model's context (%d)", pp, tg,
                m->cfg.max_seq);
        goto fail;
    }
    prompt = malloc((size_t)pp * sizeof *prompt);
    out = malloc((size_t)tg * sizeof *out);
    pf = calloc((size_t)reps, sizeof *pf);
    dc = calloc((size_t)reps, sizeof *dc);
    lmed = calloc((size_t)reps, sizeof *lmed);
    lp90 = calloc((size_t)reps, sizeof *lp90);
    if (!prompt || !out || !pf || !dc || !lmed || !lp90 || !rng) {
        ah_fail(&e, "out of memory");
        goto fail;
    }
    gsl_rng_set(rng, (unsigned long)mo.seed);
    for (int i = 0; i < pp; i++) prompt[i] = (int32_t)gsl_rng_uniform_int(rng, (unsigned long)m->cfg.vocab_size);
    const char *what = "fp32";
    if (mo.mc.kind == METHOD_FP16) {
        if (packed != 0) {
            int absent;
            packed_export_dir(dir, sizeof dir, model_path);
            ps = packed_set_load_export(m, dir, &absent, &e);
            if (!ps && !absent) goto fail;
            if (!ps && packed == 1) {
                ah_fail(&e, "--packed: %s holds no quantized.safetensors: give --method, or an "
                        "export of `quantize --format harness`", dir);
                goto fail;
            }
            if (ps) what = "packed export";
        }
    } else {
        if (!(qp = qpass_new(m, &mo.mc, NULL, &e))) goto fail;
        what = "fake-quant fp32";
        if (packed == 1) {
            if (!(ps = packed_set_new(m, &mo.mc.q, &e))) goto fail;
            qp->sink = packed_set_sink;
            qp->sink_ctx = ps;
            what = "packed";
        }
    }
    if (gen_model_build(&g, m, qp, ps, &e)) goto fail;
    qpass_free(qp);   // the calibration-free pass holds nothing the generation needs
    qp = NULL;
    size_t head = gen_head_bytes(m), per_token = g.weight_bytes + head;
    fprintf(stderr,
            "bench-generate: %s, %s; pp %d, tg %d, %d reps after %d warm-up, %d threads, "
            "kernel %s\n", model_path, what, pp, tg, reps, warmup, omp_get_max_threads(),
            ps ? packed_kernel_name(packed_kernel_auto()) : ah_blas_core());
    gen_opts go = {.max_new = tg, .top_k = 1, .temperature = 1.0, .seed = mo.seed, .stop_id = -1};
    gen_stats st = {0};
    // Warm-up, as llama-bench's: the first pass over freshly mapped or written weights pays
    // page faults and cold caches (a TinyLlama-shaped fp32 prefill ran at 50 tokens/s cold
    // and 68 warm), which a comparison with llama-bench's warm numbers would count against us.
    gen_opts wo = go;
    wo.max_new = 1;
    for (int w = 0; w < warmup; w++) {
        int n_out;
        if (gen_run_kv(m, g.blocks, prompt, pp, &wo, out, &n_out, NULL, NULL, NULL, &e)) goto fail;
    }
    for (int r = 0; r < reps; r++) {
        int n_out;
        if (gen_run_kv(m, g.blocks, prompt, pp, &go, out, &n_out, NULL, NULL, &st, &e)) goto fail;
        pf[r] = st.prefill_s > 0 ? st.prefill_tokens / st.prefill_s : 0;
        dc[r] = st.decode_s > 0 ? st.decode_tokens / st.decode_s : 0;
        lmed[r] = st.latency_median_ms;
        lp90[r] = st.latency_p90_ms;
        printf("rep %d: prefill %.1f tokens/s, decode %.2f tokens/s (latency median %.2f ms, p90 "
               "%.2f ms)\n", r + 1, pf[r], dc[r], lmed[r], lp90[r]);
    }
    double dmed = ah_quantile(dc, reps, 0.5);
    printf("model=%s what=%s bits=%d group=%d packed=%d kernel=%s threads=%d prompt_tokens=%d "
           "gen_tokens=%d reps=%d warmup=%d prefill_tok_per_s=%.2f decode_tok_per_s=%.3f "
           "latency_median_ms=%.3f latency_p90_ms=%.3f weight_bytes=%zu head_bytes=%zu "
           "kv_bytes=%zu bytes_per_token=%zu read_gb_per_s=%.3f peak_rss_mb=%.1f omp_wait=%s\n",
           model_path, ps ? "packed" : mo.mc.kind == METHOD_FP16 ? "fp32" : "fake-quant",
           ps ? ps->q.bits : mo.mc.kind == METHOD_FP16 ? 32 : mo.mc.q.bits,
           ps ? ps->q.group : mo.mc.q.group, ps != NULL,
           ps ? packed_kernel_name(packed_kernel_auto()) : "blas", omp_get_max_threads(), pp, tg,
           reps, warmup, ah_quantile(pf, reps, 0.5), dmed, ah_quantile(lmed, reps, 0.5),
           ah_quantile(lp90, reps, 0.5), g.weight_bytes,
           head, st.kv_bytes, per_token, (double)per_token * dmed / 1e9, ah_peak_rss_mb(),
           omp_wait_policy());
    status = 0;
    goto done;
fail:
    cli_error("%s", e.msg);
done:
    gsl_rng_free(rng);
    free(pf); free(dc); free(lmed); free(lp90);
    free(out);
    free(prompt);
    gen_model_free(&g);
    qpass_free(qp);
    packed_set_free(ps);
    model_free(m);
    return status;
}
