// plot.c — the plot driver (plot.h): reads /summary and the stored experiment INI, works out
// which plots to draw, parses [plot.NAME] options, and holds the row helpers the kinds share.
#include "plot/plot_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"
#include "core/names.h"
#include "method/method.h"
#include "method/params.h"
#include "quant/quant.h"

typedef struct {
    const char *name;
    pl_kind_fn fn;
} kind_entry;

static const kind_entry KINDS[] = {
    {"ppl_vs_alpha", pl_ppl_vs_alpha}, {"ppl_vs_group", pl_ppl_vs_group},
    {"ppl_vs_bits", pl_ppl_vs_bits},   {"kld_vs_bits", pl_kld_vs_bits},
    {"acc_vs_bits", pl_acc_vs_bits},
    {"ppl_vs_size", pl_ppl_vs_size},   {"ppl_vs_decode", pl_ppl_vs_decode},
    {"salient_bars", pl_salient_bars},
    {"layer_alpha", pl_layer_alpha},   {"scale_hist", pl_scale_hist},
    {"loss_vs_alpha", pl_loss_vs_alpha},
    {"ppl_vs_calib_samples", pl_ppl_vs_calib_samples}, {"ppl_vs_seed", pl_ppl_vs_seed},
};
#define NKINDS ((int)(sizeof KINDS / sizeof KINDS[0]))

const char *const PLOT_KINDS[] = {"ppl_vs_alpha", "ppl_vs_group", "ppl_vs_bits", "kld_vs_bits",
                                  "acc_vs_bits", "ppl_vs_size", "ppl_vs_decode",
                                  "salient_bars", "layer_alpha",  "scale_hist",   "loss_vs_alpha",
                                  "ppl_vs_calib_samples", "ppl_vs_seed"};
const int PLOT_NKINDS = NKINDS;

static pl_kind_fn kind_fn(const char *kind) {
    for (int i = 0; i < NKINDS; i++)
        if (!strcmp(KINDS[i].name, kind)) return KINDS[i].fn;
    return strcmp(kind, "line") ? NULL : pl_line;
}

// ---------------------------------------------------------------------------------------------
// rows

double pl_num(const store_row *r, const char *col) {
    int i = store_column_index(col);
    return i < 0 || store_summary_columns[i].type == STORE_COL_STR ? NAN : r->num[i];
}

const char *pl_str(const store_row *r, const char *col) {
    int i = store_column_index(col);
    return i < 0 || store_summary_columns[i].type != STORE_COL_STR ? "" : r->str[i];
}

static int cond_match(const pl_cond *k, const store_row *r) {
    const store_column *col = &store_summary_columns[k->col];
    for (int i = 0; i < k->n; i++) {
        const char *v = k->val[i];
        if (col->type == STORE_COL_STR) {
            if (!strcmp(r->str[k->col], v)) return 1;
            continue;
        }
        double x = r->num[k->col], want;
        // A parameter's value as the parameter table reads it (group_size = row is -1).
        const param_def *d = param_named(col->name);
        param_value pv;
        char why[256];
        if (!*v || !strcasecmp(v, "nan") || !strcmp(v, "none")) {
            if (isnan(x)) return 1;
            continue;
        } else if (d && param_parse(param_index(d), v, &pv, why, sizeof why) == 0 && pv.word < 0) {
            want = pv.num;
        } else want = strtod(v, NULL);
        if (fabs(x - want) <= 1e-9 * fmax(1.0, fabs(want))) return 1;
    }
    return 0;
}

int pl_keep(const pl_spec *p, const store_row *r) {
    for (int i = 0; i < p->n_cond; i++)
        if (!cond_match(&p->cond[i], r)) return 0;
    return 1;
}

int pl_is_awq(const store_row *r) {
    const method_traits *t = method_traits_named(pl_str(r, "method"));
    return t && (t->params & MP_AWQ);
}

int pl_is_searched_awq(const store_row *r) {
    if (!pl_is_awq(r)) return 0;
    const char *mode = pl_str(r, "alpha_mode"), *rule = pl_str(r, "scale_rule");
    if (*mode) return !strcmp(mode, "search");
    return isnan(pl_num(r, "alpha")) && (!*rule || !strcmp(rule, "search") || !strcmp(rule, "duo"));
}

#define APPEND(...) do { if (o < cap) o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__); } while (0)

void pl_variant(const store_row *r, int flags, char *buf, size_t cap) {
    size_t o = 0;
    const char *m = pl_str(r, "method");
    buf[0] = '\0';
    APPEND("%s", *m ? m : "?");
    if (pl_is_awq(r)) {
        const char *rule = pl_str(r, "scale_rule");
        if (!(flags & PL_V_NORULE) && *rule && strcmp(rule, "search")) {
            if (!strcmp(rule, "salient"))
                APPEND(" salient-rule s=%g top=%g%%", pl_num(r, "salient_scale"), pl_num(r, "scale_pct"));
            else APPEND(" %s", rule);
        }
        if ((flags & PL_V_ALPHA) && !isnan(pl_num(r, "alpha"))) APPEND(" alpha=%g", pl_num(r, "alpha"));
        if (!strcmp(pl_str(r, "clip"), "off")) APPEND(" no-clip");
        if (!strcmp(pl_str(r, "propagate"), "quantized")) APPEND(" prop-quantized");
    }
    double pct = pl_num(r, "salient_pct");
    if (pct > 0) APPEND(" keep %g%% %s", pct, pl_str(r, "salient_by"));
}

void pl_bits_group(const store_row *r, char *buf, size_t cap) {
    double b = pl_num(r, "bits"), g = pl_num(r, "group_size");
    char gl[32];
    if (isnan(b)) snprintf(buf, cap, "fp16");
    else snprintf(buf, cap, "w%g %s", b, quant_group_label(g, gl, sizeof gl));
}

static int mkdir_p(const char *dir, ah_err *e) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *s = tmp + 1; ; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return ah_fail(e, "cannot create %s: %s", tmp, strerror(errno));
        struct stat st;
        if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode)) return ah_fail(e, "%s is not a directory", tmp);
        *s = c;
        if (!c) break;
    }
    return 0;
}

int pl_out_path(const pl_ctx *c, const char *name, char *buf, size_t cap, ah_err *e) {
    char shown[80];
    // The name comes from the results file: one plain component, or nothing is written.
    if (!ah_plain_name(name))
        return ah_fail(e, "%s: plot name '%s' is not a plain name; not drawn", c->file,
                       ah_name_for_msg(name, shown, sizeof shown));
    if (mkdir_p(c->dir, e)) return -1;
    int n = snprintf(buf, cap, "%s/%s.%s", c->dir, name, gp_format_ext(c->fmt));
    if (n < 0 || (size_t)n >= cap) return ah_fail(e, "%s/%s: path too long", c->dir, name);
    // gnuplot opens the figure itself: a FIFO there would block it, a link would send the
    // figure outside the folder. Only a regular file (from an earlier plot) is replaced.
    struct stat st;
    if (lstat(buf, &st) == 0 && !S_ISREG(st.st_mode))
        return ah_fail(e, "%s: %s; not replaced", buf, ah_file_kind(st.st_mode));
    return 0;
}

void pl_drawn(const pl_ctx *c, const char *name, const char *path) {
    if (c->note) c->note(c->ctx, PLOT_DRAWN, name, path);
}

int pl_pick_run(const pl_ctx *c, const pl_spec *p, const store_row **out, char *why, size_t wcap) {
    *out = NULL;
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (p->run[0] ? !strcmp(r->id, p->run) : pl_is_searched_awq(r) && pl_keep(p, r)) {
            *out = r;
            break;
        }
    }
    if (*out && !pl_is_awq(*out)) {
        snprintf(why, wcap, "run %s is not an AWQ run", p->run);
        return 1;
    }
    if (*out) return 0;
    if (p->run[0]) snprintf(why, wcap, "no run %s in the file", p->run);
    else snprintf(why, wcap, "no AWQ run with a searched alpha%s (method = awq, alpha = search)",
                  p->n_cond ? " passing the filter" : "");
    return 1;
}

void pl_ppl_label(const pl_ctx *c, char *buf, size_t cap) {
    snprintf(buf, cap, "perplexity (%s, lower is better)", c->dataset[0] ? c->dataset : "evaluation text");
}

// ---------------------------------------------------------------------------------------------
// context

// A readable name for an evaluation source spec: "wikitext2:test" -> "WikiText-2 test",
// "text:DIR/tinystories_val.txt@0:100000" -> "TinyStories val".
static void dataset_name(const char *spec, char *buf, size_t cap) {
    buf[0] = '\0';
    if (!spec || !*spec) return;
    if (!strncmp(spec, "wikitext2:", 10)) {
        snprintf(buf, cap, "WikiText-2 %s", spec + 10);
        return;
    }
    const char *p = strchr(spec, ':');
    p = p ? p + 1 : spec;
    const char *slash = strrchr(p, '/');
    if (slash) p = slash + 1;
    char base[128];
    size_t n = strcspn(p, "@");
    snprintf(base, sizeof base, "%.*s", (int)(n < sizeof base ? n : sizeof base - 1), p);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = '\0';
    for (char *s = base; *s; s++)
        if (*s == '_' || *s == '-') *s = ' ';
    static const struct { const char *prefix, *name; } K[] = {
        {"tinystories", "TinyStories"}, {"wiki", "WikiText-2"}, {"c4", "C4"}, {"ptb", "PTB"},
        {"pile", "Pile"},
    };
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++) {
        size_t k = strlen(K[i].prefix);
        if (!strncasecmp(base, K[i].prefix, k)) {
            const char *rest = base + k;
            if (!strcmp(K[i].name, "WikiText-2")) rest = strstr(base, "test") ? " test" : strstr(base, "valid") ? " valid" : "";
            snprintf(buf, cap, "%s%s", K[i].name, rest);
            return;
        }
    }
    snprintf(buf, cap, "%s", base);
}

static void build_ctx(pl_ctx *c, const plot_opts *o) {
    const store_summary *s = c->s;
    c->fp16 = NAN;
    snprintf(c->fp_label, sizeof c->fp_label, "FP16");
    for (int i = 0; i < s->n; i++)
        if (!strcmp(pl_str(&s->rows[i], "method"), "fp16")) {
            c->fp16 = pl_num(&s->rows[i], "ppl");
            // the baseline in the checkpoint's precision: FP32 for an F32 one (weights_dtype)
            const char *d = pl_str(&s->rows[i], "weights_dtype");
            snprintf(c->fp_label, sizeof c->fp_label, "%s",
                     !strcmp(d, "F32") ? "FP32" : !strcmp(d, "BF16") ? "BF16" : "FP16");
        }
    if (s->n) {
        ah_err e;
        if (store_run_attr_str_get(c->file, s->rows[0].id, "", "model_name", c->model, sizeof c->model, &e))
            c->model[0] = '\0';
        dataset_name(pl_str(&s->rows[0], "eval_data"), c->dataset, sizeof c->dataset);
    }
    if (!c->model[0] && c->cfg) snprintf(c->model, sizeof c->model, "%s", c->cfg->model_name);
    // A file of several models or evaluation sets (issue 19's input axes): the subtitle says
    // how many, not the first one's name.
    int n_models = 0, n_data = 0;
    for (int i = 0; i < s->n; i++) {
        int new_m = 1, new_d = 1;
        for (int j = 0; j < i; j++) {
            if (!strcmp(pl_str(&s->rows[i], "model_name"), pl_str(&s->rows[j], "model_name"))) new_m = 0;
            if (!strcmp(pl_str(&s->rows[i], "eval_data"), pl_str(&s->rows[j], "eval_data"))) new_d = 0;
        }
        n_models += new_m;
        n_data += new_d;
    }
    if (n_models > 1) snprintf(c->model, sizeof c->model, "%d models", n_models);
    if (n_data > 1) snprintf(c->dataset, sizeof c->dataset, "%d evaluation sets", n_data);
    // seqlen and windows, when every run has the same
    double seq = s->n ? pl_num(&s->rows[0], "seqlen") : NAN, win = s->n ? pl_num(&s->rows[0], "windows") : NAN;
    for (int i = 1; i < s->n; i++) {
        if (pl_num(&s->rows[i], "seqlen") != seq) seq = NAN;
        if (pl_num(&s->rows[i], "windows") != win) win = NAN;
    }
    char *b = c->subtitle;
    size_t cap = sizeof c->subtitle, o2 = 0;
    const char *parts[2] = {c->model, c->dataset};
    for (int i = 0; i < 2; i++)
        if (parts[i][0] && o2 < cap) o2 += (size_t)snprintf(b + o2, cap - o2, "%s%s", o2 ? " · " : "", parts[i]);
    if (!isnan(seq) && o2 < cap) o2 += (size_t)snprintf(b + o2, cap - o2, "%sseqlen %g", o2 ? " · " : "", seq);
    if (!isnan(win) && o2 < cap) o2 += (size_t)snprintf(b + o2, cap - o2, " · %g windows", win);
    if (s->experiment[0] && o2 < cap) snprintf(b + o2, cap - o2, "%sexperiment %s", o2 ? " · " : "", s->experiment);
    // output folder: OUT/<experiment> (the file's name when the experiment has none)
    char exp[256];
    if (s->experiment[0]) snprintf(exp, sizeof exp, "%s", s->experiment);
    else {
        const char *base = strrchr(o->results, '/');
        snprintf(exp, sizeof exp, "%s", base ? base + 1 : o->results);
        char *dot = strrchr(exp, '.');
        if (dot && dot != exp) *dot = '\0';
    }
    // The experiment name was checked as the file was read (store_summary_read); the file's own
    // name is made plain here: any other byte becomes '_', and so does a leading '.'.
    for (char *p = exp; *p; p++)
        if (!ah_plain_char((unsigned char)*p) || (p == exp && *p == '.')) *p = '_';
    snprintf(c->dir, sizeof c->dir, "%s/%s", o->out_dir && *o->out_dir ? o->out_dir : "plots", exp);
}

// ---------------------------------------------------------------------------------------------
// [plot.NAME] options

static int parse_bool(const char *v, int *out) {
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1")) *out = 1;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0")) *out = 0;
    else if (!strcasecmp(v, "auto")) *out = -1;
    else return -1;
    return 0;
}

static int numeric_column(const char *name, const char *key, const char *plot, int *out, ah_err *e) {
    int i = store_column_index(name);
    if (i < 0) return ah_fail(e, "[plot.%s] %s: no summary column '%s'", plot, key, name);
    if (out) *out = i;
    if (store_summary_columns[i].type == STORE_COL_STR)
        return ah_fail(e, "[plot.%s] %s: column '%s' is not numeric", plot, key, name);
    return 0;
}

static int parse_filter(pl_spec *p, const char *v, ah_err *e) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) return ah_fail(e, "[plot.%s] filter: expected COLUMN=VALUE, got '%s'", p->name, t);
        *eq = '\0';
        int col = store_column_index(t);
        if (col < 0) return ah_fail(e, "[plot.%s] filter: no summary column '%s'", p->name, t);
        if (p->n_cond >= PL_MAX_COND) return ah_fail(e, "[plot.%s] filter: too many conditions", p->name);
        pl_cond *k = &p->cond[p->n_cond++];
        k->col = col;
        k->n = 0;
        char *s2 = NULL;
        for (char *v2 = strtok_r(eq + 1, ",", &s2); v2; v2 = strtok_r(NULL, ",", &s2)) {
            if (k->n >= 8) return ah_fail(e, "[plot.%s] filter: too many values for %s", p->name, t);
            snprintf(k->val[k->n++], sizeof k->val[0], "%s", v2);
        }
        if (!k->n) snprintf(k->val[k->n++], sizeof k->val[0], "%s", "");
    }
    return 0;
}

static int parse_layers(pl_spec *p, const char *v, ah_err *e) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        char *end;
        long l = strtol(t, &end, 10);
        if (end == t || *end || l < 0 || l > 100000)
            return ah_fail(e, "[plot.%s] layers: expected layer numbers, got '%s'", p->name, t);
        if (p->n_layers >= PL_MAX_LAYERS) return ah_fail(e, "[plot.%s] layers: too many", p->name);
        p->layers[p->n_layers++] = (int)l;
    }
    return 0;
}

static void spec_defaults(pl_spec *p, const char *name, const char *kind) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%.63s", name);
    snprintf(p->kind, sizeof p->kind, "%.31s", kind);
    p->logx = p->logy = -1;
}

static int spec_from_decl(pl_spec *p, const exp_plot *d, ah_err *e) {
    spec_defaults(p, d->name, "");
    for (int i = 0; i < d->n; i++) {
        const char *k = d->key[i], *v = d->value[i];
        if (!strcmp(k, "kind")) {
            if (strlen(v) >= sizeof p->kind) return ah_fail(e, "[plot.%s] kind: unknown '%s'", p->name, v);
            snprintf(p->kind, sizeof p->kind, "%.31s", v);
        } else if (!strcmp(k, "title")) snprintf(p->title, sizeof p->title, "%s", v);
        else if (!strcmp(k, "xlabel")) snprintf(p->xlabel, sizeof p->xlabel, "%s", v);
        else if (!strcmp(k, "ylabel")) snprintf(p->ylabel, sizeof p->ylabel, "%s", v);
        else if (!strcmp(k, "run")) snprintf(p->run, sizeof p->run, "%.64s", v);   // ids are shorter
        else if (!strcmp(k, "logx") || !strcmp(k, "logy")) {
            if (parse_bool(v, k[3] == 'x' ? &p->logx : &p->logy))
                return ah_fail(e, "[plot.%s] %s: expected yes or no, got '%s'", p->name, k, v);
        } else if (!strcmp(k, "x")) {
            if (numeric_column(v, k, p->name, NULL, e)) return -1;
            snprintf(p->x, sizeof p->x, "%.31s", v);   // a column name: short
        } else if (!strcmp(k, "y")) {
            if (numeric_column(v, k, p->name, NULL, e)) return -1;
            snprintf(p->y, sizeof p->y, "%.31s", v);
        } else if (!strcmp(k, "series")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            char *save = NULL;
            for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
                int col = store_column_index(t);
                if (col < 0) return ah_fail(e, "[plot.%s] series: no summary column '%s'", p->name, t);
                if (p->n_series >= 4) return ah_fail(e, "[plot.%s] series: at most 4 columns", p->name);
                p->series[p->n_series++] = col;
            }
        } else if (!strcmp(k, "filter")) {
            if (parse_filter(p, v, e)) return -1;
        } else if (!strcmp(k, "layers")) {
            if (parse_layers(p, v, e)) return -1;
        }
    }
    if (!p->kind[0] && kind_fn(p->name) && strcmp(p->name, "line"))   // [plot.ppl_vs_bits]: that kind
        snprintf(p->kind, sizeof p->kind, "%.31s", p->name);
    if (!p->kind[0]) return ah_fail(e, "[plot.%s]: no kind (line or a standard kind)", p->name);
    if (!kind_fn(p->kind)) {
        char list[256];
        size_t o = 0;
        for (int i = 0; i < NKINDS; i++) o += (size_t)snprintf(list + o, sizeof list - o, "%s, ", KINDS[i].name);
        snprintf(list + o, sizeof list - o, "line");
        return ah_fail(e, "[plot.%s] kind: unknown '%s' (%s)", p->name, p->kind, list);
    }
    if (!strcmp(p->kind, "line") && (!p->x[0] || !p->y[0]))
        return ah_fail(e, "[plot.%s]: kind = line needs x and y (summary columns)", p->name);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// driver

static void note(const pl_ctx *c, plot_event ev, const char *name, const char *text) {
    if (c->note) c->note(c->ctx, ev, name, text);
}

typedef struct {
    char name[64];
    const exp_plot *decl;   // NULL: a standard kind with defaults
} plan_item;

// The [plot.*] sections of INI text alone (after a stub [model] and [evaluation], which the
// parser requires): files written before includes were stored expanded keep `include =` lines
// that do not resolve where the plot runs. malloc'd, NULL when out of memory.
static char *plots_only(const char *ini) {
    static const char STUB[] = "[model]\npath = -\n[evaluation]\ndata = -\n";
    size_t n = strlen(ini), o = sizeof STUB - 1;
    char *out = malloc(n + sizeof STUB + 1);
    if (!out) return NULL;
    memcpy(out, STUB, o);
    int keep = 0;
    for (const char *l = ini; *l;) {
        size_t len = strcspn(l, "\n");
        const char *t = l;
        while (t < l + len && (*t == ' ' || *t == '\t')) t++;
        if (*t == '[') keep = !strncmp(t, "[plot.", 6);
        if (keep) {
            memcpy(out + o, l, len);
            o += len;
            out[o++] = '\n';
        }
        l += len + (l[len] == '\n');
    }
    out[o] = '\0';
    return out;
}

// `--ini FILE`: its [plot.NAME] sections join the stored experiment's (a name both have: the
// file's wins), so figures can be declared after the run. *cfg may be NULL (no stored INI).
static int add_ini_plots(exp_config **cfg, const char *path, ah_err *e) {
    exp_config *extra = calloc(1, sizeof *extra);
    if (!extra) return ah_fail(e, "out of memory");
    if (exp_config_load_plots(extra, path, e)) {
        free(extra);
        return -1;
    }
    if (!*cfg) {
        *cfg = extra;
        return 0;
    }
    for (int i = 0; i < extra->n_plots; i++) {
        int at = -1;
        for (int d = 0; d < (*cfg)->n_plots; d++)
            if (!strcmp((*cfg)->plots[d].name, extra->plots[i].name)) at = d;
        if (at < 0) {
            if ((*cfg)->n_plots >= EXP_MAX_PLOTS) {
                exp_config_free(extra);
                free(extra);
                return ah_fail(e, "%s: more than %d plots with the experiment's", path, EXP_MAX_PLOTS);
            }
            at = (*cfg)->n_plots++;
        }
        (*cfg)->plots[at] = extra->plots[i];
    }
    exp_config_free(extra);
    free(extra);
    return 0;
}

int plot_results(const plot_opts *o, plot_counts *n, ah_err *e) {
    memset(n, 0, sizeof *n);
    pl_ctx c;
    memset(&c, 0, sizeof c);
    c.file = o->results;
    c.fmt = o->fmt;
    c.note = o->note;
    c.ctx = o->ctx;
    if (gp_find(c.gnuplot, sizeof c.gnuplot, e)) return -1;
    store_summary s;
    if (store_summary_read(o->results, &s, e)) return -1;
    c.s = &s;
    exp_config *cfg = NULL;
    if (s.experiment_ini) {
        ah_err ce = {{0}};
        if (!(cfg = calloc(1, sizeof *cfg))) {
            store_summary_free(&s);
            return ah_fail(e, "out of memory");
        }
        char *sub = NULL;
        if (exp_config_load_stored(cfg, s.experiment_ini, "experiment_ini", &ce) &&
            (!(sub = plots_only(s.experiment_ini)) || exp_config_load_stored(cfg, sub, "experiment_ini", &ce))) {
            char msg[1200];
            snprintf(msg, sizeof msg, "declared [plot.*] sections not read: the stored experiment INI "
                                      "does not parse: %s", ce.msg);
            note(&c, PLOT_WARNING, "", msg);
            free(cfg);
            cfg = NULL;
        }
        free(sub);
    }
    if (o->ini && add_ini_plots(&cfg, o->ini, e)) {
        if (cfg) exp_config_free(cfg);
        free(cfg);
        store_summary_free(&s);
        return -1;
    }
    c.cfg = cfg;
    build_ctx(&c, o);

    // The plan: standard kinds (a [plot.NAME] of the same name replaces one), then the rest
    // of the declared plots in INI order.
    plan_item items[NKINDS + EXP_MAX_PLOTS];
    int ni = 0;
    for (int k = 0; k < NKINDS; k++) {
        items[ni].decl = NULL;
        snprintf(items[ni].name, sizeof items[ni].name, "%s", KINDS[k].name);
        for (int d = 0; cfg && d < cfg->n_plots; d++)
            if (!strcmp(cfg->plots[d].name, KINDS[k].name)) items[ni].decl = &cfg->plots[d];
        ni++;
    }
    for (int d = 0; cfg && d < cfg->n_plots; d++) {
        if (kind_fn(cfg->plots[d].name) && strcmp(cfg->plots[d].name, "line")) continue;
        items[ni].decl = &cfg->plots[d];
        snprintf(items[ni].name, sizeof items[ni].name, "%s", cfg->plots[d].name);
        ni++;
    }
    int rc = 0, found = !o->only;
    for (int i = 0; i < ni; i++) found |= o->only && !strcmp(o->only, items[i].name);
    if (!found) {
        char list[1024];
        size_t l = 0;
        for (int i = 0; i < ni && l < sizeof list; i++)
            l += (size_t)snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", items[i].name);
        rc = ah_fail(e, "no plot named '%s' (%s has: %s)", o->only, o->results, list);
        goto done;
    }
    for (int i = 0; i < ni; i++) {
        if (o->only && strcmp(o->only, items[i].name)) continue;
        pl_spec p;
        ah_err pe = {{0}};
        char why[512] = "";
        if (items[i].decl) {
            if (spec_from_decl(&p, items[i].decl, &pe)) {
                note(&c, PLOT_FAILED, items[i].name, pe.msg);
                n->failed++;
                continue;
            }
        } else {
            spec_defaults(&p, items[i].name, items[i].name);
        }
        int r = kind_fn(p.kind)(&c, &p, why, sizeof why, &pe);
        if (r == 0) {
            n->drawn++;
        } else if (r == 1) {
            note(&c, PLOT_SKIPPED, p.name, why);
            n->skipped++;
        } else {
            note(&c, PLOT_FAILED, p.name, pe.msg);
            n->failed++;
        }
    }
done:
    if (cfg) exp_config_free(cfg);
    free(cfg);
    store_summary_free(&s);
    return rc;
}
