#include "cli/method_opts.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "text/inputs.h"

enum { OPT_METHOD = 1000, OPT_BITS, OPT_GROUP, OPT_SALIENT_PCT, OPT_SALIENT_BY, OPT_CALIB,
       OPT_CALIB_SAMPLES, OPT_CALIB_SEQLEN, OPT_SEED, OPT_SCALE_RULE, OPT_ALPHA, OPT_GRID,
       OPT_GRID_ONE, OPT_CLIP, OPT_AWQ_SAMPLES, OPT_PROPAGATE, OPT_CALIB_PICK, OPT_SALIENT_SCALE,
       OPT_SCALE_PCT, OPT_DAMP, OPT_BLOCK_SIZE, OPT_ACT_ORDER };

const struct option CLI_METHOD_OPTIONS[] = {
    {"method", required_argument, 0, OPT_METHOD},
    {"bits", required_argument, 0, OPT_BITS},
    {"group", required_argument, 0, OPT_GROUP},
    {"salient-pct", required_argument, 0, OPT_SALIENT_PCT},
    {"salient-by", required_argument, 0, OPT_SALIENT_BY},
    {"calib", required_argument, 0, OPT_CALIB},
    {"calib-samples", required_argument, 0, OPT_CALIB_SAMPLES},
    {"calib-seqlen", required_argument, 0, OPT_CALIB_SEQLEN},
    {"seed", required_argument, 0, OPT_SEED},
    {"scale-rule", required_argument, 0, OPT_SCALE_RULE},
    {"alpha", required_argument, 0, OPT_ALPHA},
    {"grid", required_argument, 0, OPT_GRID},
    {"grid-include-one", no_argument, 0, OPT_GRID_ONE},
    {"clip", required_argument, 0, OPT_CLIP},
    {"awq-samples", required_argument, 0, OPT_AWQ_SAMPLES},
    {"propagate", required_argument, 0, OPT_PROPAGATE},
    {"calib-pick", required_argument, 0, OPT_CALIB_PICK},
    {"salient-scale", required_argument, 0, OPT_SALIENT_SCALE},
    {"scale-pct", required_argument, 0, OPT_SCALE_PCT},
    {"damp", required_argument, 0, OPT_DAMP},
    {"block-size", required_argument, 0, OPT_BLOCK_SIZE},
    {"act-order", no_argument, 0, OPT_ACT_ORDER},
    {0, 0, 0, 0},
};

void cli_method_merge_options(struct option *out, const struct option *own, size_t n_own) {
    memcpy(out, own, n_own * sizeof *out);
    memcpy(out + n_own, CLI_METHOD_OPTIONS, (CLI_METHOD_OPTION_COUNT + 1) * sizeof *out);
}

void cli_method_defaults(cli_method_opts *o) {
    memset(o, 0, sizeof *o);
    o->mc.kind = METHOD_FP16;
    o->mc.q.bits = 4;
    o->mc.q.group = 128;
    o->mc.by = SALIENT_ACTIVATION;
    awq_defaults(&o->mc.awq);
    gptq_defaults(&o->mc.gptq);
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

static int parse_double(const char *opt, const char *val, double *out) {
    char *end;
    double x = strtod(val, &end);
    if (end == val || *end) {
        cli_error("%s: expected a number, got '%s'", opt, val);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_method_option(cli_method_opts *o, int code, const char *arg) {
    switch (code) {
    case OPT_METHOD:
        if (method_parse(arg, &o->mc.kind)) {
            char names[256];
            cli_error("--method: expected one of %s, got '%s'", method_names(names, sizeof names, 0), arg);
            return -1;
        }
        o->method_given = 1;
        return 1;
    case OPT_BITS:
        // Range checked in cli_method_finish so the message names the valid range once.
        if (cli_int("--bits", arg, -1000000, 1000000, &o->mc.q.bits)) return -1;
        o->bits_given = 1;
        return 1;
    case OPT_GROUP:
        if (cli_int("--group", arg, -1000000, 1 << 30, &o->mc.q.group)) return -1;
        o->group_given = 1;
        return 1;
    case OPT_SALIENT_PCT: return parse_double("--salient-pct", arg, &o->mc.salient_pct) ? -1 : 1;
    case OPT_SALIENT_BY:
        if (salient_by_parse(arg, &o->mc.by)) {
            cli_error("--salient-by: expected activation, weight or random, got '%s'", arg);
            return -1;
        }
        return 1;
    case OPT_CALIB: o->calib = arg; return 1;
    case OPT_CALIB_SAMPLES: return cli_int("--calib-samples", arg, 1, 1 << 20, &o->calib_samples) ? -1 : 1;
    case OPT_CALIB_SEQLEN: return cli_int("--calib-seqlen", arg, 2, 1 << 20, &o->calib_seqlen) ? -1 : 1;
    case OPT_SEED: {
        int s;
        if (cli_int("--seed", arg, 0, 2147483647, &s)) return -1;
        o->seed = (unsigned long)s;
        return 1;
    }
    case OPT_SCALE_RULE:
        if (awq_rule_parse(arg, &o->mc.awq.rule)) {
            cli_error("--scale-rule: expected search, duo, fixed or salient, got '%s'", arg);
            return -1;
        }
        return 1;
    case OPT_ALPHA: return parse_double("--alpha", arg, &o->mc.awq.alpha) ? -1 : 1;
    case OPT_GRID: return cli_int("--grid", arg, 1, AWQ_MAX_GRID - 1, &o->mc.awq.grid_points) ? -1 : 1;
    case OPT_GRID_ONE: o->mc.awq.grid_include_one = 1; return 1;
    case OPT_CLIP:
        if (strcmp(arg, "on") && strcmp(arg, "off")) {
            cli_error("--clip: expected on or off, got '%s'", arg);
            return -1;
        }
        o->mc.awq.clip = strcmp(arg, "on") == 0;
        return 1;
    case OPT_AWQ_SAMPLES: return cli_int("--awq-samples", arg, 1, 1 << 20, &o->mc.awq.samples) ? -1 : 1;
    case OPT_PROPAGATE:
        if (strcmp(arg, "fp") && strcmp(arg, "quantized")) {
            cli_error("--propagate: expected fp or quantized, got '%s'", arg);
            return -1;
        }
        o->mc.propagate_quantized = strcmp(arg, "quantized") == 0;
        return 1;
    case OPT_SALIENT_SCALE: return parse_double("--salient-scale", arg, &o->mc.awq.salient_scale) ? -1 : 1;
    case OPT_SCALE_PCT: return parse_double("--scale-pct", arg, &o->mc.awq.scale_pct) ? -1 : 1;
    case OPT_DAMP:
        if (parse_double("--damp", arg, &o->mc.gptq.damp)) return -1;
        o->gptq_given = 1;
        return 1;
    case OPT_BLOCK_SIZE:
        if (cli_int("--block-size", arg, 1, 1 << 20, &o->mc.gptq.block_size)) return -1;
        o->gptq_given = 1;
        return 1;
    case OPT_ACT_ORDER:
        o->mc.gptq.act_order = 1;
        o->gptq_given = 1;
        return 1;
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
    o->mc.seed = o->seed;
    if (o->mc.kind == METHOD_FP16 && (o->bits_given || o->group_given)) {
        cli_error("--bits/--group given without --method (the default method fp16 quantizes nothing)");
        return -1;
    }
    // Options a method does not take are refused, naming the methods that take them (the
    // method table's parameters).
    char names[256];
    if (!method_takes(o->mc.kind, MP_AWQ) && (o->mc.awq.rule != AWQ_SEARCH || o->mc.awq.alpha >= 0)) {
        cli_error("--scale-rule/--alpha apply to --method %s only", method_names(names, sizeof names, MP_AWQ));
        return -1;
    }
    if (!method_takes(o->mc.kind, MP_GPTQ) && o->gptq_given) {
        cli_error("--damp/--block-size/--act-order apply to --method %s only",
                  method_names(names, sizeof names, MP_GPTQ));
        return -1;
    }
    if (!method_takes(o->mc.kind, MP_SALIENT) && o->mc.salient_pct != 0) {
        cli_error("--salient-pct applies to --method %s only", method_names(names, sizeof names, MP_SALIENT));
        return -1;
    }
    // Salient channels kept in full precision over MinMax is the method `salient`.
    if (o->mc.kind == METHOD_MINMAX && o->mc.salient_pct > 0) o->mc.kind = METHOD_SALIENT;
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
    fprintf(f, " method=%s", method_name(mc->kind));
    if (mc->kind == METHOD_FP16) return;
    fprintf(f, " bits=%d group=%d", mc->q.bits, mc->q.group);
    if (method_takes(mc->kind, MP_SALIENT) && mc->salient_pct > 0)
        fprintf(f, " salient_pct=%g salient_by=%s", mc->salient_pct, salient_by_name(mc->by));
    if (method_uses_gptq(mc->kind)) {
        fprintf(f, " damp=%g block_size=%d act_order=%s", mc->gptq.damp, mc->gptq.block_size,
                mc->gptq.act_order ? "on" : "off");
        if (p) {   // the dampening finally used: the largest over the linears, and retries
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
    }
    if (method_uses_awq(mc->kind)) {
        fprintf(f, " scale_rule=%s", awq_rule_name(mc->awq.rule));
        if (mc->awq.rule == AWQ_SALIENT)
            fprintf(f, " salient_scale=%g scale_pct=%g", mc->awq.salient_scale, mc->awq.scale_pct);
        else if (mc->awq.alpha >= 0) fprintf(f, " alpha=%g", mc->awq.alpha);
        else fprintf(f, " alpha=search grid=%d%s", mc->awq.grid_points, mc->awq.grid_include_one ? "+1" : "");
        fprintf(f, " clip=%s propagate=%s", mc->awq.clip ? "on" : "off",
                mc->propagate_quantized ? "quantized" : "fp");
        if (p && p->awq) {   // mean chosen alpha over the scaling groups applied
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
    }
    if (cs && cs->n > 0)
        fprintf(f, " calib=%s calib_samples=%d calib_seqlen=%d seed=%lu", o->calib, cs->n,
                cs->len, o->seed);
    if (p) {
        int n;
        double w, out;
        qpass_summary(p, &n, &w, &out);
        fprintf(f, " linears=%d weight_mse=%.6g", n, w);
        if (out >= 0) fprintf(f, " output_mse=%.6g", out);
    }
}
