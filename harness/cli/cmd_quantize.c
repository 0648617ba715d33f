// cmd_quantize.c — `awq-harness quantize`: quantize a checkpoint and write it out (the
// fake-quantized checkpoint, the packed integer form and a manifest; see export/export.h).
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "text/inputs.h"
#include "cli/cli_opts.h"
#include "cli/method_opts.h"
#include "method/params.h"
#include "core/progress.h"
#include "export/export.h"
#include "export/formats.h"
#include "export/run.h"

static void quantize_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness quantize --model PATH --method M --bits B --group G --out DIR [options]\n"
            "\n"
            "  --model PATH        HuggingFace directory, llama2.c .bin or .gguf file\n"
            "  --tokenizer PATH    for --calib, to copy beside a llama2.c output, and for gguf\n"
            "  --out DIR           output directory (created, or replaced whole when it holds an export);\n"
            "                      --format gguf: a FILE.gguf, or a directory holding model.gguf\n"
            "  --format F          what to write (default harness):\n");
    qexport_format_usage(f);
    fprintf(f,
            "  --scale-dtype D     f32 (default), f16, bf16 or f16-q41 (fp16 with 7 significant bits):\n"
            "                      round every scale to D before the codes are computed (awq, gptq,\n"
            "                      gguf-q4_0 and gguf-q8_0 imply f16, gguf-q4_1 f16-q41,\n"
            "                      compressed-tensors the model's dtype); with --format harness, the\n"
            "                      weights another format's export of the same run holds\n"
            "  --wikitext-dir DIR  for wikitext2: calibration sources\n"
            "  --threads N, --quiet\n"
            "\n");
    cli_method_usage(f);
}

static int parse_format(void *dst, const char *arg) {
    const qexport_format *f = qexport_format_find(arg);
    if (!f) {
        cli_error("quantize: --format: expected one of %s, got '%s'", qexport_format_list(), arg);
        return -1;
    }
    *(const qexport_format **)dst = f;
    return 0;
}

// --scale-dtype: the dtype scales are rounded to before the codes (a format's own by default).
static int parse_scale_dtype(void *dst, const char *arg) {
    static const struct {
        const char *name;
        int dtype;
    } dtypes[] = {{"f32", QUANT_SCALE_F32}, {"f16", QUANT_SCALE_F16}, {"bf16", QUANT_SCALE_BF16},
                  {"f16-q41", QUANT_SCALE_F16_Q41}};
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(arg, dtypes[i].name)) {
            *(int *)dst = dtypes[i].dtype;
            return 0;
        }
    cli_error("quantize: --scale-dtype: expected f32, f16, bf16 or f16-q41, got '%s'", arg);
    return -1;
}

int cmd_quantize(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *out = NULL, *wt_dir = NULL;
    const qexport_format *fmt = qexport_format_find("harness");
    int threads = 0, quiet = 0, scale_dt = -1;
    const cli_opt own[] = {
        CLI_STR("model", &model_path),        CLI_STR("tokenizer", &tok_path),
        CLI_STR("out", &out),                 CLI_STR("wikitext-dir", &wt_dir),
        CLI_INT("threads", &threads, 1, 1024), CLI_FLAG("quiet", &quiet, 1),
        CLI_FN("format", &fmt, parse_format),
        CLI_FN("scale-dtype", &scale_dt, parse_scale_dtype),
    };
    cli_method_opts mo;
    int parsed = cli_parse("quantize", argc, argv, own, sizeof own / sizeof own[0], &mo, quantize_usage);
    if (parsed) return cli_exit_code(parsed);
    if (!model_path || !out || !(mo.given & (1u << PARAM_METHOD))) {
        cli_error("quantize: --model, --method and --out are required (see 'awq-harness quantize --help')");
        return 2;
    }
    if (mo.mc.kind == METHOD_FP16 && !fmt->unquantized_ok) {
        cli_error("quantize: --method fp16 quantizes nothing; choose rtn, minmax, gptq-rtn or salient "
                  "(or --format gguf to convert the model unquantized)");
        return 2;
    }
    cli_set_threads(threads);

    ah_err e = {{0}};
    int status = 1;
    model *m = NULL;
    tok_tokenizer *tok = NULL;
    calib_set cs = {0};
    qexport_run run = {0};
    char tpath[4096];
    int have_tok = 0;
    double max_abs_diff;

    if (!(m = model_load(model_path, &e))) goto fail;
    // A format that stores rounded scales gets codes computed with them (evaluate what you export).
    if (fmt->scale_dtype) {
        quant_scale_dtype want = qexport_format_scales(fmt, m);
        if (scale_dt >= 0 && scale_dt != (int)want) {
            ah_fail(&e, "--format %s stores %s scales for this model; --scale-dtype %s contradicts it",
                    fmt->name, quant_scale_dtype_name(want),
                    quant_scale_dtype_name((quant_scale_dtype)scale_dt));
            goto fail;
        }
        mo.mc.q.scale_dtype = want;
    } else if (scale_dt >= 0) {
        mo.mc.q.scale_dtype = (quant_scale_dtype)scale_dt;
    }
    // The tokenizer is needed for calibration, copied beside a llama2.c output, and embedded
    // by formats that carry one (GGUF).
    have_tok = ds_tokenizer_path(tpath, sizeof tpath, model_path, tok_path, &e) == 0;
    if ((mo.calib && strncmp(mo.calib, "ids:", 4) != 0) || fmt->needs_tokenizer) {   // ids: is pre-tokenized
        if (!have_tok) {
            if (fmt->needs_tokenizer) ah_wrap(&e, "--format %s embeds the tokenizer", fmt->name);
            goto fail;
        }
        if (!(tok = tok_load(tpath, &e))) goto fail;
    }
    // Whether the format can hold this model and run, and whether --out may be replaced (not
    // a user's directory): an error now, not after the work.
    if (fmt->check(m, &mo.mc, tok, out, &e)) goto fail;
    if (cli_calib_set(&cs, &mo, tok, m, wt_dir, &e)) goto fail;
    qexport_job job = {
        .m = m, .mc = &mo.mc, .cs = &cs, .awq_preset = NULL, .seed = mo.seed,
        .calib_source = mo.calib, .run_id = NULL, .run_key = NULL, .label = "quantize",
        .quiet = quiet,
    };
    if (qexport_run_make(&run, &job, &e)) goto fail;
    if (qexport_run_write(&run, fmt, m, tok, have_tok ? tpath : NULL, out, &max_abs_diff, &e))
        goto fail;
    if (!isnan(max_abs_diff)) printf("export_check max_abs_diff=%g\n", max_abs_diff);

    printf("quantized %s -> %s\n", model_path, out);
    printf("out=%s", out);
    cli_method_kv(stdout, &mo, &cs, run.qp);
    printf(" peak_rss_mb=%.1f\n", ah_peak_rss_mb());
    status = 0;
    goto done;
fail:
    cli_error("%s", e.msg);
done:
    qexport_run_free(&run);
    calib_set_free(&cs);
    tok_free(tok);
    model_free(m);
    return status;
}
