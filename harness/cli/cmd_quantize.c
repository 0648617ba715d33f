// cmd_quantize.c — `awq-harness quantize`: quantize a checkpoint and write it out (the
// fake-quantized checkpoint, the packed integer form and a manifest; see export/export.h).
#include <getopt.h>
#include <jansson.h>
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

// The manifest: what was done, how the files are laid out, and the per-linear metrics.
static char *manifest(const model *m, const cli_method_opts *o, const calib_set *cs,
                      const qpass *p) {
    const method_cfg *mc = &o->mc;
    json_t *root = json_object(), *lin = json_array();
    json_object_set_new(root, "harness", json_string("awq-harness 0.1.0"));
    json_object_set_new(root, "source_model", json_string(m->path));
    json_object_set_new(root, "source_format", json_string(m->format));
    json_object_set_new(root, "model_type", json_string(m->cfg.arch->model_type));
    json_object_set_new(root, "method", json_string(method_name(mc->kind)));
    json_object_set_new(root, "quantizer", json_string(quant_kind_name(mc->q.kind)));
    json_object_set_new(root, "bits", json_integer(mc->q.bits));
    json_object_set_new(root, "group_size", json_integer(mc->q.group));
    json_object_set_new(root, "ragged_last_group",
                        json_string("a row whose width the group size does not divide ends with a shorter group"));
    if (method_takes(mc->kind, MP_SALIENT) && mc->salient_pct > 0) {
        json_object_set_new(root, "salient_pct", json_real(mc->salient_pct));
        json_object_set_new(root, "salient_by", json_string(salient_by_name(mc->by)));
    }
    json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
    if (method_uses_gptq(mc->kind)) {
        json_t *gq = json_object();
        json_object_set_new(gq, "damp", json_real(mc->gptq.damp));
        json_object_set_new(gq, "block_size", json_integer(mc->gptq.block_size));
        json_object_set_new(gq, "act_order", json_boolean(mc->gptq.act_order));
        json_object_set_new(gq, "codes", json_string(
            "GPTQ's own codes, scales and zeros per group in the original column order (act_order: "
            "static groups), so the same dequantization as every method"));
        json_object_set_new(root, "gptq", gq);
    }
    if (method_uses_awq(mc->kind)) {
        json_t *a = json_object(), *chosen = json_array();
        json_object_set_new(a, "scale_rule", json_string(awq_rule_name(mc->awq.rule)));
        json_object_set_new(a, "alpha", mc->awq.alpha_mode == AWQ_ALPHA_FIXED ? json_real(mc->awq.alpha) : json_string("search"));
        json_object_set_new(a, "grid_points", json_integer(mc->awq.grid_points));
        json_object_set_new(a, "grid_include_one", json_boolean(mc->awq.grid_include_one));
        json_object_set_new(a, "clip", json_boolean(mc->awq.clip));
        json_object_set_new(a, "propagate", json_string(mc->propagate_quantized ? "quantized" : "fp"));
        json_object_set_new(a, "files", json_string("awq.safetensors: scales, alpha, loss curve, statistics, clip thresholds"));
        for (int l = 0; l < m->cfg.n_layers; l++) {
            json_t *row = json_object();
            for (int g = 0; g < m->cfg.arch->n_groups; g++)
                if (p->awq[l].group[g].applied)
                    json_object_set_new(row, m->cfg.arch->groups[g].name,
                                        json_real(p->awq[l].group[g].alpha));
            json_array_append_new(chosen, row);
        }
        json_object_set_new(a, "chosen_alpha", chosen);
        json_object_set_new(root, "awq", a);
    }
    if (cs->n) {
        json_t *c = json_object();
        json_object_set_new(c, "source", json_string(o->calib));
        json_object_set_new(c, "samples", json_integer(cs->n));
        json_object_set_new(c, "seqlen", json_integer(cs->len));
        json_object_set_new(c, "source_tokens", json_integer((json_int_t)cs->source_tokens));
        json_object_set_new(root, "calibration", c);
    }
    json_object_set_new(root, "packed_layout", json_string(
        "quantized.safetensors, per linear NAME: NAME.qweight U8 (rows, packed_cols): codes packed "
        "row by row, floor(8/bits) codes per byte, first code in the lowest bits; NAME.scales F32 "
        "(rows, groups); NAME.zeros U8 (rows, groups): the code of 0.0; optional NAME.fp_columns I32 "
        "(k) and NAME.fp_values F32 (rows, k): input channels kept in full precision. "
        "w = (code - zero) * scale, rounded to the source dtype, then fp_columns <- fp_values."));
    for (size_t i = 0; i < (size_t)m->cfg.n_layers * L_COUNT; i++) {
        const method_metrics *mm = &p->metrics[i];
        if (mm->rows == 0) continue;
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(model_lw(m, mm->layer, mm->role)->name));
        json_object_set_new(x, "layer", json_integer(mm->layer));
        json_object_set_new(x, "role", json_string(arch_layer_role_name(mm->role)));
        json_object_set_new(x, "shape", json_pack("[ii]", mm->rows, mm->cols));
        json_object_set_new(x, "fp_columns", json_integer(mm->kept));
        json_object_set_new(x, "weight_mse", json_real(mm->weight_mse));
        if (mm->output_mse >= 0) json_object_set_new(x, "output_mse", json_real(mm->output_mse));
        json_array_append_new(lin, x);
    }
    json_object_set_new(root, "linears", lin);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
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
    qpass *qp = NULL;
    qexport *qx = NULL;
    block_f32 *blk = NULL;
    char *man = NULL;
    char tpath[4096];
    int have_tok = 0;

    if (!(m = model_load(model_path, &e))) goto fail;
    // A format that stores rounded scales gets codes computed with them (evaluate what you export).
    if (fmt->scale_dtype) {
        quant_scale_dtype want = fmt->scale_dtype(m);
        if (scale_dt >= 0 && scale_dt != (int)want) {
            static const char *NAME[] = {"f32", "f16", "bf16", "f16-q41"};
            ah_fail(&e, "--format %s stores %s scales for this model; --scale-dtype %s contradicts it",
                    fmt->name, NAME[want], NAME[scale_dt]);
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
    if (!(qp = qpass_new(m, &mo.mc, cs.n ? &cs : NULL, &e))) goto fail;
    if (!(qx = qexport_new(m, &mo.mc, &e))) goto fail;
    qp->sink = qexport_sink;
    qp->block_sink = qexport_block;
    qp->sink_ctx = qx;
    if (!(blk = block_f32_new(m, &e))) goto fail;

    ah_progress prog;
    ah_progress_start(&prog, "quantize", m->cfg.n_layers, quiet);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        char stage[48];
        if (block_f32_load(blk, m, l, &e) || qpass_block(qp, l, blk, &e)) {
            ah_progress_end(&prog);
            goto fail;
        }
        snprintf(stage, sizeof stage, "block %d/%d", l + 1, m->cfg.n_layers);
        ah_progress_step(&prog, 1, stage);
    }
    ah_progress_end(&prog);
    // The block and the calibration states are done with: the export streams from the spool
    // and the source mapping, so it runs beside neither (it was the peak of a 7B quantize).
    block_f32_free(blk);
    blk = NULL;
    qpass_release_calibration(qp);
    if (!(man = manifest(m, &mo, &cs, qp))) {
        ah_fail(&e, "out of memory (manifest)");
        goto fail;
    }
    if (fmt->write(qx, m, tok, out, have_tok ? tpath : NULL, man, qp->awq, &e)) goto fail;

    printf("quantized %s -> %s\n", model_path, out);
    printf("out=%s", out);
    cli_method_kv(stdout, &mo, &cs, qp);
    printf(" peak_rss_mb=%.1f\n", ah_peak_rss_mb());
    status = 0;
    goto done;
fail:
    cli_error("%s", e.msg);
done:
    free(man);
    block_f32_free(blk);
    qexport_free(qx);
    qpass_free(qp);
    calib_set_free(&cs);
    tok_free(tok);
    model_free(m);
    return status;
}
