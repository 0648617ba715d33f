// cmd_eval.c — `awq-harness eval`: perplexity of a checkpoint on a text source.
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "text/inputs.h"
#include "cli/cli_opts.h"
#include "cli/method_opts.h"
#include "core/blas.h"
#include "core/progress.h"
#include "eval/ppl.h"
#include "eval/ppl_lmeval.h"
#include "model/model.h"
#include "packed/pmodel.h"
#include "text/tokenizer.h"

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness eval --model PATH --data SOURCE [options]\n"
            "\n"
            "  --model PATH        HuggingFace directory (config.json + safetensors), llama2.c .bin\n"
            "                      or .gguf file\n"
            "  --tokenizer PATH    tokenizer (default: the model directory, tokenizer.bin beside a .bin,\n"
            "                      or the .gguf file itself)\n"
            "  --data SOURCE       wikitext2:test | wikitext2:valid | text:FILE | jsonl:FILE |\n"
            "                      ids:FILE (pre-tokenized, whitespace-separated ids)\n"
            "  --wikitext-dir DIR  where wiki.test.raw / wiki.valid.raw live\n"
            "                      (default $AH_WIKITEXT_DIR or ../shared/data/wikitext-2-raw)\n"
            "  --seqlen N          window length (default: min(2048, the model's maximum))\n"
            "  --max-windows K     evaluate only the first K windows\n"
            "  --protocol P        gptq (default; the AWQ/GPTQ papers') | llamacpp | lmeval\n"
            "                      (lm-eval's rolling word/byte perplexity of whole documents:\n"
            "                      wikitext2 articles, jsonl lines, or the text file; docs/TASKS.md)\n"
            "  --threads N         OpenMP and BLAS threads (default: all cores)\n"
            "  --kld               also the KL divergence of the quantized model from the FP one\n"
            "                      (llama.cpp's --kl-divergence statistics; an FP pass first)\n"
            "  --packed            compute the quantized linears from their packed codes (packed/):\n"
            "                      with --method, the codes the method computes; for an export\n"
            "                      (quantize --format harness), its quantized.safetensors\n"
            "  --quiet             no progress output\n"
            "\n");
    cli_method_usage(f);
    fprintf(f, "\nThe last line of output is machine-readable key=value pairs.\n");
}

// --protocol lmeval: documents, rolling windows of the model's context (ppl_lmeval.h).
static int eval_lmeval(const char *model_path, const char *tok_path, const char *data,
                       const char *wt_dir, int seqlen, int quiet, cli_method_opts *mo) {
    ah_err e = {{0}};
    int status = 1;
    model *m = NULL;
    tok_tokenizer *tok = NULL;
    ds_docs d = {0};
    calib_set cs = {0};
    qpass *qp = NULL;
    ppl_lmeval_result r = {0};
    char tpath[4096];
    double t0 = ah_now();
    if (!(m = model_load(model_path, &e))) goto fail;
    if (ds_tokenizer_path(tpath, sizeof tpath, model_path, tok_path, &e)) goto fail;
    if (!(tok = tok_load(tpath, &e))) goto fail;
    if (ds_load_docs(&d, data, wt_dir, &e)) goto fail;
    if (cli_calib_set(&cs, mo, tok, m, wt_dir, &e)) goto fail;
    if (mo->mc.kind != METHOD_FP16 && !(qp = qpass_new(m, &mo->mc, cs.n ? &cs : NULL, &e))) goto fail;
    if (!quiet)
        fprintf(stderr, "data: %s: %zu documents (protocol lmeval, windows of %d)\n", data, d.n,
                seqlen ? seqlen : m->cfg.max_seq);
    ll_opts lo = {.quiet = quiet, .block_fn = qp ? qpass_block : NULL, .block_ctx = qp};
    int L = seqlen ? seqlen : m->cfg.max_seq;   // --seqlen: lm-eval's max_length
    if (ppl_lmeval(&r, m, tok, &d, L, &lo, &e)) goto fail;
    printf("word perplexity: %.4f, byte perplexity: %.4f, bits per byte: %.4f, token perplexity: "
           "%.4f (lmeval: %zu documents, %zu windows of at most %d; %ld words, %ld bytes, %ld "
           "tokens)\n", r.word_ppl, r.byte_ppl, r.bits_per_byte, r.token_ppl, r.docs, r.windows,
           L, r.words, r.bytes, r.tokens);
    printf("ppl=%.6f protocol=lmeval word_perplexity=%.8f byte_perplexity=%.8f bits_per_byte=%.8f "
           "token_perplexity=%.8f ll=%.6f docs=%zu windows=%zu words=%ld bytes=%ld tokens=%ld",
           r.word_ppl, r.word_ppl, r.byte_ppl, r.bits_per_byte, r.token_ppl, r.ll, r.docs,
           r.windows, r.words, r.bytes, r.tokens);
    cli_method_kv(stdout, mo, &cs, mo->mc.kind == METHOD_FP16 ? NULL : qp);
    printf(" seconds=%.3f\n", ah_now() - t0);
    status = 0;
    goto done;
fail:
    cli_error("%s", e.msg);
done:
    ppl_lmeval_result_free(&r);
    qpass_free(qp);
    calib_set_free(&cs);
    ds_docs_free(&d);
    tok_free(tok);
    model_free(m);
    return status;
}

static int parse_protocol(void *dst, const char *arg) {
    if (ppl_protocol_parse(arg, dst) == 0) return 0;
    cli_error("--protocol: expected gptq, llamacpp or lmeval, got '%s'", arg);
    return -1;
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *data = NULL, *wt_dir = NULL;
    int seqlen = 0, max_windows = 0, threads = 0, quiet = 0, kld = 0, packed = 0;
    ppl_protocol protocol = PPL_GPTQ;
    const cli_opt own[] = {
        CLI_STR("model", &model_path),       CLI_STR("tokenizer", &tok_path),
        CLI_STR("data", &data),              CLI_STR("wikitext-dir", &wt_dir),
        CLI_INT("seqlen", &seqlen, 2, 1 << 20),
        CLI_INT("max-windows", &max_windows, 1, 1 << 30),
        CLI_FN("protocol", &protocol, parse_protocol),
        CLI_INT("threads", &threads, 1, 1024), CLI_FLAG("quiet", &quiet, 1),
        CLI_FLAG("kld", &kld, 1),            CLI_FLAG("packed", &packed, 1),
    };
    cli_method_opts mo;
    int parsed = cli_parse("eval", argc, argv, own, sizeof own / sizeof own[0], &mo, eval_usage);
    if (parsed) return cli_exit_code(parsed);
    if (!model_path || !data) {
        cli_error("eval: --model and --data are required (see 'awq-harness eval --help')");
        return 2;
    }
    if (kld && mo.mc.kind == METHOD_FP16) {
        cli_error("eval: --kld compares a quantized model with the FP one: give --method");
        return 2;
    }
    if (kld && protocol == PPL_LMEVAL) {
        cli_error("eval: --kld compares window positions: use --protocol gptq or llamacpp");
        return 2;
    }
    cli_set_threads(threads);
    if (protocol == PPL_LMEVAL)
        return eval_lmeval(model_path, tok_path, data, wt_dir, seqlen, quiet, &mo);

    ah_err e = {{0}};
    int status = 1;
    model *m = NULL;
    tok_tokenizer *tok = NULL;
    ds_ids in = {0};
    ppl_result r = {0}, fr = {0};
    kld_ref ref = {0};
    calib_set cs = {0};
    qpass *qp = NULL;
    packed_set *ps = NULL;
    packed_hook ph = {0};
    char tpath[4096], desc[256];
    double t0 = ah_now();

    if (!(m = model_load(model_path, &e))) goto fail;
    int pretokenized = strncmp(data, "ids:", 4) == 0;
    snprintf(tpath, sizeof tpath, "(none: pre-tokenized)");
    if (!pretokenized) {
        if (ds_tokenizer_path(tpath, sizeof tpath, model_path, tok_path, &e)) goto fail;
        if (!(tok = tok_load(tpath, &e))) goto fail;
    }
    if (tok && tok_vocab_size(tok) > m->cfg.vocab_size) {
        ah_fail(&e, "%s: tokenizer has %d tokens but the model's vocabulary is %d", tpath,
                tok_vocab_size(tok), m->cfg.vocab_size);
        goto fail;
    }
    if (ds_load_ids(&in, tok, data, wt_dir, protocol == PPL_LLAMACPP, 1, &e)) goto fail;
    if (seqlen == 0) seqlen = m->cfg.max_seq < 2048 ? m->cfg.max_seq : 2048;
    if (seqlen > m->cfg.max_seq) {
        ah_fail(&e, "--seqlen %d is longer than the model allows (%s: max %d)", seqlen,
                model_path, m->cfg.max_seq);
        goto fail;
    }

    if (cli_calib_set(&cs, &mo, tok, m, wt_dir, &e)) goto fail;
    if (!(qp = qpass_new(m, &mo.mc, cs.n ? &cs : NULL, &e))) goto fail;

    model_describe(m, desc, sizeof desc);
    if (!quiet) {
        fprintf(stderr, "model: %s (%s, %s)\n", model_path, desc, m->format);
        fprintf(stderr, "tokenizer: %s (%s)\n", tpath, tok ? tok_kind(tok) : "-");
        fprintf(stderr, "blas: OpenBLAS %s kernels, %d threads, OpenMP wait policy %s\n",
                ah_blas_core(), omp_get_max_threads(), omp_wait_policy());
        fprintf(stderr, "data: %s: %zu bytes, %zu tokens, %zu windows of %d (protocol %s)\n",
                data, in.text_len, in.n, ppl_window_count(in.n, seqlen), seqlen,
                ppl_protocol_name(protocol));
        if (mo.mc.kind != METHOD_FP16)
            fprintf(stderr, "method: %s, %d bits, group %d%s\n", method_name(mo.mc.kind),
                    mo.mc.q.bits, mo.mc.q.group, mo.mc.salient_pct > 0 ? ", salient channels kept FP" : "");
        if (cs.n)
            fprintf(stderr, "calibration: %s: %d sequences of %d tokens (of %zu), seed %lu\n",
                    mo.calib, cs.n, cs.len, cs.source_tokens, mo.seed);
    }
    if (packed) {
        if (mo.mc.kind != METHOD_FP16) {   // the codes the method computes, as it computes them
            if (!(ps = packed_set_new(m, &mo.mc.q, &e))) goto fail;
            qp->sink = packed_set_sink;
            qp->sink_ctx = ps;
        } else {   // an export's codes
            char dir[4096];
            int absent;
            packed_export_dir(dir, sizeof dir, model_path);
            if (!(ps = packed_set_load_export(m, dir, &absent, &e))) {
                if (absent) ah_fail(&e, "--packed: %s holds no quantized.safetensors: give --method, "
                                    "or an export of `quantize --format harness`", dir);
                goto fail;
            }
        }
        ph = (packed_hook){.ps = ps, .qp = mo.mc.kind != METHOD_FP16 ? qp : NULL};
        if (!quiet)
            fprintf(stderr, "packed: %d-bit codes, %s kernel; linears computed from codes\n",
                    ps->q.bits, packed_kernel_name(packed_kernel_auto()));
    }
    ppl_opts po = {
        .protocol = protocol, .seqlen = seqlen, .max_windows = max_windows,
        .bos_id = tok ? tok_bos_id(tok) : m->cfg.bos_id, .quiet = quiet,
        .block_fn = packed ? packed_hook_block : qpass_block, .block_ctx = packed ? (void *)&ph : qp,
        // the FP model (no packed codes): qpass_block leaves the weights as they are, so the
        // blocks are read in place (an F32 checkpoint is not copied block by block)
        .block_fn_reads_only = !packed && mo.mc.kind == METHOD_FP16,
    };
    // --kld: the FP pass first, keeping the KLD reference (kld.h: C floats per scored position);
    // the quantized pass then compares every scored position with it.
    if (kld) {
        ppl_opts fo = po;
        fo.block_fn = NULL;
        fo.block_ctx = NULL;
        fo.ref_out = &ref;
        if (ppl_evaluate(&fr, m, in.ids, in.n, &fo, &e)) goto fail;
        po.kld_ref = &ref;
        if (!quiet)
            fprintf(stderr, "fp reference: perplexity %.4f, %.2f s; KLD reference of %zu positions "
                            "x %zu floats (%.1f MiB)\n", fr.ppl, fr.seconds, ref.W * ref.P, ref.C,
                    (double)(ref.W * ref.P * ref.C * sizeof(float)) / (1 << 20));
    }
    if (ppl_evaluate(&r, m, in.ids, in.n, &po, &e)) goto fail;

    double secs = ah_now() - t0;
    double evaluated = (double)r.windows * seqlen;
    double tps = r.seconds > 0 ? evaluated / r.seconds : 0;
    // "+/-" as llama.cpp prints it; the bracket is the window bootstrap (docs/UNCERTAINTY.md).
    printf("perplexity: %.4f +/- %.5f, 95%% interval [%.4f, %.4f] (%s, %d windows of %d, %ld "
           "scored tokens)\n", r.ppl, r.stderr_ppl, r.ppl_lo, r.ppl_hi,
           ppl_protocol_name(protocol), r.windows, seqlen, r.scored);
    printf("tokens: %zu in the data, %.0f evaluated; %.1f tokens/s; %.2f s total; peak memory "
           "%.1f MiB\n", in.n, evaluated, tps, secs, ah_peak_rss_mb());
    if (kld) {
        printf("\nKL divergence from the FP model (perplexity %.4f) over %ld scored positions:\n",
               fr.ppl, r.kld.n);
        kld_stats_print(stdout, &r.kld);
    }
    printf("ppl=%.6f tokens=%zu windows=%d seqlen=%d protocol=%s", r.ppl, in.n, r.windows,
           seqlen, ppl_protocol_name(protocol));
    printf(" ppl_stderr=%.6f ppl_lo=%.6f ppl_hi=%.6f", r.stderr_ppl, r.ppl_lo, r.ppl_hi);
    cli_method_kv(stdout, &mo, &cs, mo.mc.kind == METHOD_FP16 ? NULL : qp);
    if (kld) {
        const char *names[KLD_NAMED];
        double vals[KLD_NAMED];
        int nk = kld_stats_named(&r.kld, names, vals);
        printf(" fp_ppl=%.6f fp_seconds=%.3f", fr.ppl, fr.seconds);
        for (int i = 0; i < nk; i++)
            if (kld_named_is_count(names[i])) printf(" %s=%.0f", names[i], vals[i]);
            else printf(" %s=%.9g", names[i], vals[i]);
    }
    if (packed) printf(" packed=1 packed_kernel=%s weight_bytes=%zu", packed_kernel_name(packed_kernel_auto()),
                       packed_set_bytes(ps));
    printf(" nll=%.8f seconds=%.3f tok_per_s=%.1f peak_rss_mb=%.1f blas_core=%s threads=%d "
           "omp_wait=%s\n", r.nll_mean, secs, tps, ah_peak_rss_mb(), ah_blas_core(),
           omp_get_max_threads(), omp_wait_policy());
    status = 0;
    goto done;
fail:
    cli_error("%s", e.msg);
done:
    ppl_result_free(&r);
    ppl_result_free(&fr);
    kld_ref_free(&ref);
    qpass_free(qp);
    packed_set_free(ps);
    calib_set_free(&cs);
    ds_ids_free(&in);
    tok_free(tok);
    model_free(m);
    return status;
}
