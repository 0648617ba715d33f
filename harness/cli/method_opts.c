#include "cli/method_opts.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "method/params.h"
#include "text/inputs.h"

// Option codes: OPT_PARAM + the parameter table's row for the rows with an option, then the
// calibration options (which belong to the calibration set, not to the method configuration).
enum { OPT_PARAM = 1000, OPT_CALIB = OPT_PARAM + PARAM_COUNT, OPT_CALIB_SAMPLES, OPT_CALIB_SEQLEN,
       OPT_CALIB_PICK };

static const struct option CALIB_OPTIONS[] = {
    {"calib", required_argument, 0, OPT_CALIB},
    {"calib-samples", required_argument, 0, OPT_CALIB_SAMPLES},
    {"calib-seqlen", required_argument, 0, OPT_CALIB_SEQLEN},
    {"calib-pick", required_argument, 0, OPT_CALIB_PICK},
};

void cli_method_merge_options(struct option *out, const struct option *own, size_t n_own) {
    memcpy(out, own, n_own * sizeof *out);
    size_t k = n_own;
    for (int p = 0; p < PARAM_COUNT; p++) {
        const param_def *d = param_of((param_id)p);
        if (!d->cli) continue;
        out[k++] = (struct option){d->cli, d->cli_arg ? required_argument : no_argument, 0, OPT_PARAM + p};
    }
    memcpy(out + k, CALIB_OPTIONS, sizeof CALIB_OPTIONS);
    k += sizeof CALIB_OPTIONS / sizeof CALIB_OPTIONS[0];
    memset(&out[k], 0, sizeof out[k]);
    if (k - n_own != CLI_METHOD_OPTION_COUNT) {   // a row's option added without the count
        fprintf(stderr, "internal error: %zu method options, CLI_METHOD_OPTION_COUNT is %d\n",
                k - n_own, CLI_METHOD_OPTION_COUNT);
        abort();
    }
}

void cli_method_defaults(cli_method_opts *o) {
    memset(o, 0, sizeof *o);
    param_defaults(&o->mc);   // the parameter table's defaults
    o->calib_samples = 128;
}

void cli_method_usage(FILE *f) {
    fprintf(f,
            "quantization (applied to every linear inside the decoder blocks):\n"
            "  --method M          fp16 (default: no quantization) | rtn | minmax | gptq-rtn | salient | awq |\n"
            "                      gptq | awq+gptq | imatrix (gptq, awq+gptq and imatrix need --calib)\n"
            "  --bits B            2..8 (default 4)\n"
            "  --group G           input channels per group, or -1 for whole rows (default 128;\n"
            "                      a row whose width G does not divide ends with a shorter group)\n"
            "  --salient-pct P     salient: %% of input channels kept in full precision (0..100)\n"
            "  --salient-by S      activation (default; needs --calib) | weight | random\n"
            "  --calib SOURCE      calibration text (same sources as --data); gives output-error metrics\n"
            "  --calib-samples N   calibration sequences (default 128)\n"
            "  --calib-seqlen L    tokens per sequence (default min(512, the model's maximum))\n"
            "  --calib-pick P      random (default: seeded choice of blocks) | first (the first N blocks)\n"
            "  --seed S            calibration sampling and random channels (default 0)\n"
            "AWQ (--method awq; docs/AWQ.md):\n"
            "  --scale-rule R      search (default: s = x_mean^alpha, best alpha on the grid) |\n"
            "                      duo (s = x_mean^alpha / w_mean^(1-alpha)) | fixed (s = x_max^alpha / max|W|) |\n"
            "                      salient (s = --salient-scale on the top --scale-pct %% channels by mean |x|, else 1)\n"
            "  --salient-scale S   salient rule: the scale of the salient channels (default 2)\n"
            "  --scale-pct P       salient rule: %% of channels scaled (default 1)\n"
            "  --salient-pct P     with awq: also keep P%% of channels in full precision after scaling\n"
            "  --alpha A           a fixed alpha in [0, 1] (required for fixed; no search otherwise)\n"
            "  --grid N            alpha grid i/N, i = 0..N-1 (default 20); --grid-include-one adds 1.0\n"
            "  --clip on|off       clip search after scaling (default on)\n"
            "  --awq-samples K     calibration sequences for the search losses (default: all)\n"
            "  --propagate P       fp (default: next block calibrated on FP outputs) | quantized\n"
            "GPTQ (--method gptq | awq+gptq; docs/GPTQ.md):\n"
            "  --damp D            dampening: D * mean(diag H) added to H's diagonal (default 0.01)\n"
            "  --block-size B      columns per lazy-update block (default 128)\n"
            "  --act-order         quantize columns by descending diag H (static groups)\n");
}

int cli_method_option(cli_method_opts *o, int code, const char *arg) {
    if (code >= OPT_PARAM && code < OPT_PARAM + PARAM_COUNT) {
        param_id p = (param_id)(code - OPT_PARAM);
        const param_def *d = param_of(p);
        param_value v = {1, 1};   // a flag (--act-order): its row's word 1, "on"
        char why[320];
        if (d->cli_arg && (param_parse(p, arg, &v, why, sizeof why) || param_check(p, &v, why, sizeof why))) {
            cli_error("--%s: %s", d->cli, why);
            return -1;
        }
        param_set(&o->mc, p, v);
        o->given |= 1u << p;
        return 1;
    }
    switch (code) {
    case OPT_CALIB: o->calib = arg; return 1;
    case OPT_CALIB_SAMPLES: return cli_int("--calib-samples", arg, 1, 1 << 20, &o->calib_samples) ? -1 : 1;
    case OPT_CALIB_SEQLEN: return cli_int("--calib-seqlen", arg, 2, 1 << 20, &o->calib_seqlen) ? -1 : 1;
    case OPT_CALIB_PICK:
        if (strcmp(arg, "first") && strcmp(arg, "random")) {
            cli_error("--calib-pick: expected first or random, got '%s'", arg);
            return -1;
        }
        o->calib_first = strcmp(arg, "first") == 0;
        return 1;
    default: return 0;
    }
}

int cli_method_finish(cli_method_opts *o) {
    ah_err e = {{0}};
    o->seed = o->mc.seed;
    if (o->mc.kind == METHOD_FP16 && (o->given & (1u << PARAM_BITS | 1u << PARAM_GROUP))) {
        cli_error("--bits/--group given without --method (the default method fp16 quantizes nothing)");
        return -1;
    }
    // An option the method does not take is refused, naming the methods that take it (the
    // parameter table's `takes`, read against the method table).
    for (int p = 0; p < PARAM_COUNT; p++) {
        const param_def *d = param_of((param_id)p);
        if (!(o->given & (1u << p)) || !d->takes || method_takes(o->mc.kind, d->takes)) continue;
        char names[256];
        cli_error("--%s applies to --method %s only", d->cli, method_names(names, sizeof names, d->takes));
        return -1;
    }
    o->mc.kind = method_with_kept(o->mc.kind, o->mc.salient_pct > 0);
    if (method_cfg_check(&o->mc, &e)) {
        cli_error("%s", e.msg);
        return -1;
    }
    return 0;
}

int cli_calib_set(calib_set *cs, const cli_method_opts *o, const tok_tokenizer *tok,
                  const model *m, const char *wt_dir, ah_err *e) {
    memset(cs, 0, sizeof *cs);
    if (!o->calib) return 0;
    // Pre-tokenized ids (synthetic checkpoints have no tokenizer) need none.
    if (!tok && strncmp(o->calib, "ids:", 4) != 0) return ah_fail(e, "--calib needs a tokenizer");
    int len = o->calib_seqlen ? o->calib_seqlen : (m->cfg.max_seq < 512 ? m->cfg.max_seq : 512);
    if (len > m->cfg.max_seq)
        return ah_fail(e, "--calib-seqlen %d is longer than the model allows (%d)", len, m->cfg.max_seq);
    ds_ids in;
    if (ds_load_ids(&in, tok, o->calib, wt_dir, 0, 1, e)) return ah_wrap(e, "calibration");
    int rc = calib_set_make(cs, in.ids, in.n, o->calib_samples, len, o->seed, o->calib_first,
                            o->calib, e);
    ds_ids_free(&in);
    return rc;
}

void cli_method_kv(FILE *f, const cli_method_opts *o, const calib_set *cs, const qpass *p) {
    const method_cfg *mc = &o->mc;
    char params[1024];
    param_describe(mc, params, sizeof params);   // method=... bits=... group_size=...: the table's names
    fprintf(f, " %s", params);
    if (method_uses_gptq(mc->kind) && p) {   // the dampening finally used: the largest, and retries
        double mx = 0.0;
        int retried = 0;
        for (size_t i = 0; i < (size_t)p->m->cfg.n_layers * L_COUNT; i++) {
            const method_metrics *mm = &p->metrics[i];
            if (mm->rows == 0) continue;
            if (mm->gptq_damp > mx) mx = mm->gptq_damp;
            retried += mm->gptq_retries > 0;
        }
        fprintf(f, " damp_max_used=%g damp_retried_linears=%d", mx, retried);
    }
    if (method_uses_awq(mc->kind) && p && p->awq) {   // mean chosen alpha over the groups applied
        double sum = 0.0, secs = 0.0;
        int n = 0;
        for (int l = 0; l < p->m->cfg.n_layers; l++) secs += p->awq[l].seconds;
        fprintf(f, " awq_seconds=%.3f quant_seconds=%.3f", secs, p->seconds);
        for (int l = 0; l < p->m->cfg.n_layers; l++)
            for (int g = 0; g < ARCH_MAX_GROUPS; g++)
                if (p->awq[l].group[g].applied) {
                    sum += p->awq[l].group[g].alpha;
                    n++;
                }
        if (n) fprintf(f, " alpha_mean=%.4f", sum / n);
        // Every chosen alpha, layer by layer, groups in table order (applied ones only).
        fputs(" alphas=", f);
        const char *sep = "";
        for (int l = 0; l < p->m->cfg.n_layers; l++)
            for (int g = 0; g < ARCH_MAX_GROUPS; g++)
                if (p->awq[l].group[g].applied) {
                    fprintf(f, "%s%g", sep, p->awq[l].group[g].alpha);
                    sep = ",";
                }
    }
    if (cs && cs->n > 0)   // (the seed is among the parameters above when not 0)
        fprintf(f, " calib=%s calib_samples=%d calib_seqlen=%d", o->calib, cs->n, cs->len);
    if (p) {
        int n;
        double w, out;
        qpass_summary(p, &n, &w, &out);
        fprintf(f, " linears=%d weight_mse=%.6g", n, w);
        if (out >= 0) fprintf(f, " output_mse=%.6g", out);
    }
}
