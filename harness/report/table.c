// table.c — a results summary into rows x columns of cells, with paper-style labels
// (report.h has the rules).
#include "report/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "experiment/data_axes.h"
#include "method/method.h"
#include "method/params.h"
#include "text/dataset.h"

#define FIELD_ID (-2)   // the run id, usable as a row or column key
#define MAX_KEY 24      // fields in one key

// Outcomes, not parameters: never a key.
static const char *const RESULTS[] = {"ppl", "nll", "seconds", "awq_seconds", "cache", "key", NULL};
// Row order: fields compared first to last (those in the row key).
static const char *const ROW_ORDER[] = {
    "model_name", "method", "scale_rule", "salient_by", "salient_pct", "salient_scale", "scale_pct", "alpha",
    "clip", "propagate", "bits", "group_size", "calib", "eval_data", "seqlen", "windows", NULL,
};

typedef struct {
    int n;
    int f[MAX_KEY];   // summary column index, or FIELD_ID
} key_def;

// What a build needs besides the table itself.
typedef struct {
    const store_summary *s;
    key_def rows, cols;
    int *row_rep, *col_rep;   // a representative run of each row / column
    int *varies_q, *varies_r; // per summary column: varies among quantized / reference rows
} build_ctx;

static int in_list(const char *const *list, const char *w) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], w)) return 1;
    return 0;
}

// The run parameters besides the parameter table's (method/params.h), which are all in the
// default row key: the /summary columns of the sweep's input axes (experiment/data_axes.h), in
// ROW_ORDER's order, those it does not list last. The row key is these minus the column key.
// Into out[EXP_IN_COUNT]; returns how many.
static int data_params(const char **out) {
    int n = 0;
    for (int i = 0; ROW_ORDER[i]; i++)
        for (int k = 0; k < EXP_IN_COUNT; k++)
            if (!strcmp(EXP_INPUT_AXES[k].column, ROW_ORDER[i])) out[n++] = ROW_ORDER[i];
    for (int k = 0; k < EXP_IN_COUNT; k++)
        if (!in_list(ROW_ORDER, EXP_INPUT_AXES[k].column)) out[n++] = EXP_INPUT_AXES[k].column;
    return n;
}

// An outcome column (also any later "*_seconds" timing, the KL divergence's kld_*, dp_*,
// top1_*, and the zero-shot tasks' acc_*, ppl_*, *_perplexity_*, bits_per_byte_*): never a
// row or column key.
static int is_result(const char *name) {
    size_t n = strlen(name);
    return in_list(RESULTS, name) || (n >= 7 && !strcmp(name + n - 7, "seconds")) ||
           !strncmp(name, "kld_", 4) || !strncmp(name, "dp_", 3) || !strncmp(name, "top1_", 5) ||
           !strncmp(name, "acc_", 4) || !strncmp(name, "ppl_", 4) ||
           strstr(name, "_perplexity_") || !strncmp(name, "bits_per_byte_", 14);
}

static const char *col_name(int f) { return f == FIELD_ID ? "id" : store_summary_columns[f].name; }
static int is_str(int f) { return f == FIELD_ID || store_summary_columns[f].type == STORE_COL_STR; }
static const char *sval(const store_summary *s, int r, int f) {
    return f == FIELD_ID ? s->rows[r].id : s->rows[r].str[f];
}
static double nval(const store_summary *s, int r, int f) { return s->rows[r].num[f]; }
static int missing(const store_summary *s, int r, int f) {
    return is_str(f) ? sval(s, r, f)[0] == '\0' : isnan(nval(s, r, f));
}
static int same(const store_summary *s, int a, int b, int f) {
    if (is_str(f)) return !strcmp(sval(s, a, f), sval(s, b, f));
    double x = nval(s, a, f), y = nval(s, b, f);
    return (isnan(x) && isnan(y)) || x == y;
}
static int is_ref(const store_summary *s, int r);
static void note(report_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int key_same(const store_summary *s, const key_def *k, int a, int b) {
    for (int i = 0; i < k->n; i++)
        if (!same(s, a, b, k->f[i])) return 0;
    return 1;
}
static int key_has(const key_def *k, const char *name) {
    for (int i = 0; i < k->n; i++)
        if (!strcmp(col_name(k->f[i]), name)) return 1;
    return 0;
}
static int field_index(const char *name) { return !strcmp(name, "id") ? FIELD_ID : store_column_index(name); }

static int is_ref(const store_summary *s, int r) {
    int m = store_column_index("method");
    return m >= 0 && !strcmp(s->rows[r].str[m], "fp16");
}

// "bits, group_size" -> key. what: "--rows" / "--cols" for errors.
static int parse_key(key_def *k, const char *list, const char *what, ah_err *e) {
    char buf[512];
    if (strlen(list) >= sizeof buf) return ah_fail(e, "%s: list too long", what);
    snprintf(buf, sizeof buf, "%s", list);
    k->n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        char *end = t + strlen(t);
        while (end > t && end[-1] == ' ') *--end = '\0';
        if (!*t) continue;
        int f = field_index(t);
        if (f == -1 || is_result(t)) {
            char known[512] = "id";
            size_t o = 2;
            for (int i = 0; i < store_summary_ncolumns; i++)
                if (!is_result(store_summary_columns[i].name) && o < sizeof known)
                    o += (size_t)snprintf(known + o, sizeof known - o, ", %s", store_summary_columns[i].name);
            return ah_fail(e, "%s: '%s' is not a run parameter (one of: %s)", what, t, known);
        }
        for (int i = 0; i < k->n; i++)
            if (k->f[i] == f) return ah_fail(e, "%s: '%s' given twice", what, t);
        if (k->n == MAX_KEY) return ah_fail(e, "%s: more than %d fields", what, MAX_KEY);
        k->f[k->n++] = f;
    }
    if (k->n == 0) return ah_fail(e, "%s: no fields", what);
    return 0;
}

// ---- ordering -------------------------------------------------------------------------------

static int word_rank(const char *field, const char *v) {
    if (!strcmp(field, "method")) {   // the method table's row order
        const method_traits *t = method_traits_named(v);
        return t ? t->rank : 100;
    }
    static const char *const RULE[] = {"salient", "fixed", "search", "duo", NULL};
    static const char *const BY[] = {"activation", "weight", "random", NULL};
    static const char *const CLIP[] = {"on", "off", NULL};
    static const char *const PROP[] = {"fp", "quantized", NULL};
    const char *const *w = !strcmp(field, "scale_rule") ? RULE
                         : !strcmp(field, "salient_by") ? BY : !strcmp(field, "clip") ? CLIP
                         : !strcmp(field, "propagate") ? PROP : NULL;
    if (!w) return -1;
    for (int i = 0; w[i]; i++)
        if (!strcmp(w[i], v)) return i;
    return 100;
}

// Missing values first; known words in paper order; numbers ascending with group_size -1
// (whole rows, the coarsest grouping) last.
static int cmp_field(const store_summary *s, int a, int b, int f) {
    int ma = missing(s, a, f), mb = missing(s, b, f);
    if (ma || mb) return mb - ma;
    if (is_str(f)) {
        const char *x = sval(s, a, f), *y = sval(s, b, f);
        int rx = word_rank(col_name(f), x), ry = word_rank(col_name(f), y);
        if (rx != ry) return rx < ry ? -1 : 1;
        return strcmp(x, y);
    }
    double x = nval(s, a, f), y = nval(s, b, f);
    if (!strcmp(col_name(f), "group_size")) {
        if (x < 0) x = INFINITY;
        if (y < 0) y = INFINITY;
    }
    return x < y ? -1 : x > y ? 1 : 0;
}

static const build_ctx *g_sort;   // qsort has no context argument

static int cmp_rows(const void *pa, const void *pb) {
    const build_ctx *c = g_sort;
    int a = *(const int *)pa, b = *(const int *)pb;
    int ra = is_ref(c->s, a), rb = is_ref(c->s, b);
    if (ra != rb) return rb - ra;
    for (int i = 0; ROW_ORDER[i]; i++)
        for (int k = 0; k < c->rows.n; k++)
            if (!strcmp(col_name(c->rows.f[k]), ROW_ORDER[i])) {
                int d = cmp_field(c->s, a, b, c->rows.f[k]);
                if (d) return d;
            }
    for (int k = 0; k < c->rows.n; k++) {   // fields outside ROW_ORDER (id)
        int d = cmp_field(c->s, a, b, c->rows.f[k]);
        if (d) return d;
    }
    return 0;
}

static int cmp_cols(const void *pa, const void *pb) {
    const build_ctx *c = g_sort;
    int a = *(const int *)pa, b = *(const int *)pb;
    for (int k = 0; k < c->cols.n; k++) {
        int d = cmp_field(c->s, a, b, c->cols.f[k]);
        if (d) return d;
    }
    return 0;
}

// ---- labels ---------------------------------------------------------------------------------

typedef struct {
    char *p;
    size_t cap, n;
} lbuf;

static void add(lbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(lbuf *b, const char *fmt, ...) {
    if (b->n >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k > 0) b->n = b->n + (size_t)k < b->cap ? b->n + (size_t)k : b->cap - 1;
}
static void sep(lbuf *b) {
    if (b->n) add(b, " ");
}

static const char *by_label(const char *by) {
    return !strcmp(by, "activation") ? "act." : by;
}

// INT3 g128 | W3 per-row | INT3 | g128 | per-row
static void bits_group(lbuf *b, const store_summary *s, int r, int fb, int fg) {
    double bits = fb >= 0 ? nval(s, r, fb) : NAN, g = fg >= 0 ? nval(s, r, fg) : NAN;
    if (!isnan(bits) && !isnan(g) && g < 0) { sep(b); add(b, "W%g per-row", bits); return; }
    if (!isnan(bits)) { sep(b); add(b, "INT%g", bits); }
    if (!isnan(g)) {
        sep(b);
        if (g < 0) add(b, "per-row");
        else add(b, "g%g", g);
    }
}

static int get_field(const store_summary *s, int r, const char *name, double *x, const char **str) {
    int f = store_column_index(name);
    if (f < 0 || missing(s, r, f)) return 0;
    if (is_str(f)) *str = sval(s, r, f);
    else *x = nval(s, r, f);
    return 1;
}

// The unquantized run in the checkpoint's own precision: an F32 checkpoint's baseline is
// FP32, a BF16 one's BF16; FP16 otherwise (and for runs recorded before weights_dtype).
static const char *ref_label(const store_summary *s, int r) {
    double x;
    const char *d = "";
    get_field(s, r, "weights_dtype", &x, &d);
    return !strcmp(d, "F32") ? "FP32" : !strcmp(d, "BF16") ? "BF16" : "FP16";
}

// The paper's name for a run's method: FP16, RTN, MinMax, "1% FP16 (act.)", AWQ, "AWQ (duo)",
// "s=2". Only parameters in key k are used; varies[] says which vary among the rows.
static void method_label(lbuf *b, const store_summary *s, int r, const key_def *k, const int *varies) {
    double x;
    const char *m = "", *str = "";
    get_field(s, r, "method", &x, &m);
    sep(b);
    const method_traits *t = method_traits_named(m);
    if (!strcmp(m, "salient")) {
        if (key_has(k, "salient_pct") && get_field(s, r, "salient_pct", &x, &str)) add(b, "%g%% FP16", x);
        else add(b, "FP16 kept");
        if (key_has(k, "salient_by") && get_field(s, r, "salient_by", &x, &str)) add(b, " (%s)", by_label(str));
    } else if (t && (t->params & MP_AWQ)) {
        int plus_gptq = (t->params & MP_GPTQ) != 0;
        const char *rule = "";
        if (key_has(k, "scale_rule")) get_field(s, r, "scale_rule", &x, &rule);
        if (!strcmp(rule, "salient")) {
            double sc, pc;
            if (key_has(k, "salient_scale") && get_field(s, r, "salient_scale", &sc, &str)) add(b, "s=%g", sc);
            else add(b, "AWQ (salient)");
            int fp = store_column_index("scale_pct");
            if (key_has(k, "scale_pct") && get_field(s, r, "scale_pct", &pc, &str) && (pc != 1 || varies[fp]))
                add(b, " top %g%%", pc);
        } else if (!strcmp(rule, "duo") || !strcmp(rule, "fixed")) {
            add(b, "AWQ (%s)", rule);
        } else {
            add(b, "AWQ");
        }
        if (plus_gptq) add(b, " + GPTQ");
        if (key_has(k, "alpha") && get_field(s, r, "alpha", &x, &str)) add(b, " alpha=%g", x);
        if (key_has(k, "salient_pct") && get_field(s, r, "salient_pct", &x, &str) && x > 0) {
            add(b, " + %g%% FP16", x);
            if (key_has(k, "salient_by") && get_field(s, r, "salient_by", &x, &str)) add(b, " (%s)", by_label(str));
        }
    } else if (!strcmp(m, "fp16")) {
        add(b, "%s", ref_label(s, r));
    } else {   // the table's label; a method the table does not know (a newer file) by name
        add(b, "%s", t ? t->label : m);
        // kept channels, a modifier of any method: "GPTQ + 1% FP16 (act.)"
        if (key_has(k, "salient_pct") && get_field(s, r, "salient_pct", &x, &str) && x > 0) {
            add(b, " + %g%% FP16", x);
            if (key_has(k, "salient_by") && get_field(s, r, "salient_by", &x, &str)) add(b, " (%s)", by_label(str));
        }
    }
}

// One parameter on its own: "clip=off", "s=2", "1% FP16", "act.".
static void field_label(lbuf *b, const store_summary *s, int r, int f) {
    if (missing(s, r, f)) return;
    const char *n = col_name(f);
    sep(b);
    if (f == FIELD_ID) { add(b, "%s", sval(s, r, f)); return; }
    double x = is_str(f) ? NAN : nval(s, r, f);
    if (!strcmp(n, "salient_pct")) add(b, "%g%% FP16", x);
    else if (!strcmp(n, "salient_by")) add(b, "%s", by_label(sval(s, r, f)));
    else if (!strcmp(n, "salient_scale")) add(b, "s=%g", x);
    else if (!strcmp(n, "scale_pct")) add(b, "top %g%%", x);
    else if (!strcmp(n, "calib") || !strcmp(n, "eval_data")) add(b, "%s=%s", n, ds_spec_kind(sval(s, r, f)));
    else if (!strcmp(n, "model_name")) add(b, "[%s]", sval(s, r, f));
    else if (is_str(f)) add(b, "%s=%s", n, sval(s, r, f));
    else add(b, "%s=%g", n, x);
}

// Label of run r under key k. all = every field (columns); otherwise fields not named by the
// method label appear only when they vary (rows).
static void key_label(char *out, size_t cap, const build_ctx *c, int r, const key_def *k, int all,
                      const int *varies) {
    const store_summary *s = c->s;
    lbuf b = {out, cap, 0};
    out[0] = '\0';
    // (alpha_mode and quantizer follow from alpha and method: never shown on their own.)
    static const char *const BY_METHOD[] = {"method", "scale_rule", "alpha", "alpha_mode",
                                            "quantizer", "salient_pct", "salient_by",
                                            "salient_scale", "scale_pct", NULL};
    int has_method = key_has(k, "method");
    if (has_method) method_label(&b, s, r, k, varies);
    else if (is_ref(s, r)) add(&b, "%s", ref_label(s, r));
    int fb = -1, fg = -1;
    for (int i = 0; i < k->n; i++) {
        if (!strcmp(col_name(k->f[i]), "bits")) fb = k->f[i];
        if (!strcmp(col_name(k->f[i]), "group_size")) fg = k->f[i];
    }
    if ((fb >= 0 || fg >= 0) && (all || (fb >= 0 && varies[fb]) || (fg >= 0 && varies[fg])))
        bits_group(&b, s, r, fb, fg);
    for (int i = 0; i < k->n; i++) {
        int f = k->f[i];
        const char *n = col_name(f);
        if (f == fb || f == fg || (has_method && in_list(BY_METHOD, n))) continue;
        if (all || f == FIELD_ID || varies[f]) field_label(&b, s, r, f);
    }
    if (!out[0]) {   // nothing varies: name every field, else the method
        bits_group(&b, s, r, fb, fg);
        for (int i = 0; i < k->n; i++)
            if (k->f[i] != fb && k->f[i] != fg) field_label(&b, s, r, k->f[i]);
        key_def m = {.n = 1, .f = {store_column_index("method")}};
        if (!out[0] && m.f[0] >= 0) method_label(&b, s, r, &m, varies);
        if (!out[0]) snprintf(out, cap, "-");
    }
}

// ---- building -------------------------------------------------------------------------------

// Runs a and b share a row: equal row keys, and both or neither the FP16 reference.
static int same_row(const build_ctx *c, int a, int b) {
    return is_ref(c->s, a) == is_ref(c->s, b) && key_same(c->s, &c->rows, a, b);
}

// An FP16 run fits the column of run col when every column field it has equals col's (the
// fields it lacks, bits and group_size, match anything).
static int ref_fits(const build_ctx *c, int r, int col) {
    for (int k = 0; k < c->cols.n; k++)
        if (!missing(c->s, r, c->cols.f[k]) && !same(c->s, r, col, c->cols.f[k])) return 0;
    return 1;
}

// Runs a and b are seed replicates: both have a seed, and every parameter column but the
// seed (and the outcomes) is the same.
static int seed_replicates(const store_summary *s, int a, int b) {
    int fs = store_column_index("seed");
    if (fs < 0 || missing(s, a, fs) || missing(s, b, fs) || same(s, a, b, fs)) return 0;
    for (int f = 0; f < store_summary_ncolumns; f++) {
        const char *n = col_name(f);
        if (f == fs || is_result(n) || !strcmp(n, "windows")) continue;
        if (!same(s, a, b, f)) return 0;
    }
    return 1;
}

static int cell_clash(const build_ctx *c, int a, int b, const char *row, const char *col, ah_err *e) {
    const store_summary *s = c->s;
    char diff[512] = "";
    size_t o = 0;
    for (int f = 0; f < store_summary_ncolumns; f++) {
        if (is_result(col_name(f)) || !strcmp(col_name(f), "windows")) continue;
        if (!same(s, a, b, f) && o < sizeof diff)
            o += (size_t)snprintf(diff + o, sizeof diff - o, "%s%s", o ? ", " : "", col_name(f));
    }
    if (o)
        return ah_fail(e, "runs %s and %s fall in one cell (row '%s', column '%s'): they differ in "
                          "%s; add one of them to --rows or --cols", s->rows[a].id, s->rows[b].id, row, col, diff);
    return ah_fail(e, "runs %s and %s fall in one cell (row '%s', column '%s') and differ only in "
                      "parameters /summary does not hold (grid, seed, ...): use --rows id",
                   s->rows[a].id, s->rows[b].id, row, col);
}

// Fills varies[f] for the runs rep[0..n) (flagged by want_ref == is_ref): two different
// values among those that have one (a parameter that does not apply to a method is missing,
// and that alone does not make it vary: "AWQ", not "AWQ clip=on", beside "RTN").
static void find_varies(const store_summary *s, const int *rep, int n, int want_ref, int *varies) {
    for (int f = 0; f < store_summary_ncolumns; f++) {
        int first = -1;
        varies[f] = 0;
        for (int i = 0; i < n && !varies[f]; i++) {
            if (is_ref(s, rep[i]) != want_ref || missing(s, rep[i], f)) continue;
            if (first < 0) first = rep[i];
            else if (!same(s, first, rep[i], f)) varies[f] = 1;
        }
    }
}

static void caption(report_table *t, const build_ctx *c, const report_opts *o) {
    const store_summary *s = c->s;
    lbuf b = {t->caption, sizeof t->caption, 0};
    int fe = store_column_index("eval_data"), fs = store_column_index("seqlen"),
        fw = store_column_index("windows");
    add(&b, "%s", s->experiment[0] ? s->experiment : "results");
    int fm = store_column_index("model_name"), same_m = 1;
    for (int r = 1; r < s->n; r++) same_m &= same(s, 0, r, fm);
    if (o->model && *o->model && same_m) add(&b, ": %s", o->model);
    int r0 = s->n ? 0 : -1, same_e = 1, same_s = 1, same_w = 1;
    for (int r = 1; r < s->n; r++) {
        same_e &= same(s, 0, r, fe);
        same_s &= same(s, 0, r, fs);
        same_w &= same(s, 0, r, fw);
    }
    if (r0 >= 0 && same_e && !missing(s, 0, fe)) add(&b, ", %s", ds_spec_kind(sval(s, 0, fe)));
    if (r0 >= 0 && same_s && !missing(s, 0, fs)) add(&b, ", seqlen %g", nval(s, 0, fs));
    if (r0 >= 0 && same_w && !missing(s, 0, fw)) add(&b, ", %g windows", nval(s, 0, fw));
    add(&b, "; %s%s", t->metric, t->better < 0 ? " (lower is better)" : t->better > 0 ?
        " (higher is better)" : "");
    if (o->file && *o->file) add(&b, "; from %s", o->file);
}

// After placing the runs: a reference row whose runs differ in precision (an F32 and an F16
// checkpoint in model columns) names both ("FP32/FP16"); a row with a run calibrated on text
// that overlaps its evaluation text gets a dagger, explained in the notes.
static void mark_rows(report_table *t, const store_summary *s) {
    int fo = store_column_index("calib_eval_overlap"), daggers = 0;
    for (int i = 0; i < t->n_rows; i++) {
        char *lab = t->row_label[i];
        const char *first = NULL, *other = NULL;
        int overlap = 0;
        for (int j = 0; j < t->n_cols; j++) {
            int r = t->cell[(size_t)i * t->n_cols + j].run;
            if (r < 0) continue;
            overlap |= fo >= 0 && nval(s, r, fo) > 0;
            const char *l = ref_label(s, r);
            if (!first) first = l;
            else if (strcmp(l, first) && !other) other = l;
        }
        size_t L = strlen(first ? first : "");
        if (t->row_ref[i] && other && !strncmp(lab, first, L)) {
            char joined[3 * REPORT_LABEL_CAP];
            snprintf(joined, sizeof joined, "%s/%s%s", first, other, lab + L);
            snprintf(lab, REPORT_LABEL_CAP, "%.*s", REPORT_LABEL_CAP - 1, joined);
        }
        if (overlap) {
            L = strlen(lab);
            snprintf(lab + L, REPORT_LABEL_CAP - L, " \xe2\x80\xa0");
            daggers++;
        }
    }
    if (daggers)
        note(t, "\xe2\x80\xa0 calibrated on text that overlaps the evaluation text (a %d-token "
                "passage in common: calib_eval_overlap > 0); its perplexity is not a held-out "
                "measurement", 32);
}

int report_build(report_table *t, const store_summary *s, const report_opts *o, ah_err *e) {
    memset(t, 0, sizeof *t);
    build_ctx c = {.s = s};
    int rc = -1;
    const char *metric = o->metric ? o->metric : "ppl";
    if (!strcmp(metric, "kld")) metric = "kld_mean";
    // A zero-shot task's metric, METRIC:TASK (acc:piqa, word_perplexity:wikitext), is the
    // /summary column METRIC_TASK (store.c).
    char task_col[96];
    const char *colon = strchr(metric, ':');
    if (colon) {
        snprintf(task_col, sizeof task_col, "%.*s_%s", (int)(colon - metric), metric, colon + 1);
        metric = task_col;
    }
    int task_acc = colon && !strncmp(metric, "acc", 3);
    int fm = store_column_index(metric);
    if (fm < 0 || is_str(fm))
        return ah_fail(e, "--metric: '%s' is not a numeric /summary column (ppl, nll, kld, "
                          "kld_median, kld_p99, top1_agree, dp_mean, seconds, acc:TASK, "
                          "acc_norm:TASK, ...)", metric);
    snprintf(t->metric, sizeof t->metric, "%.31s", !strcmp(metric, "ppl") ? "perplexity"
             : !strcmp(metric, "kld_mean") ? "mean KLD from FP (nats)" : metric);
    // Top-1 agreement is better high; Δp (the change in the correct token's probability)
    // is better near 0, so no cell is marked; KLD values are small: 4 decimals.
    // Tokens/s of [evaluation] efficiency are better high; its thread count has no side.
    int speed = !strcmp(metric, "decode_tok_s") || !strcmp(metric, "prefill_tok_s");
    t->better = !strcmp(metric, "top1_agree") || task_acc || speed ? 1
                : !strncmp(metric, "dp_", 3) || !strcmp(metric, "eff_threads") ? 0 : -1;
    t->digits = is_result(metric) && (!strncmp(metric, "kld_", 4) || !strncmp(metric, "dp_", 3) ||
                                      !strncmp(metric, "top1_", 5) || task_acc) ? 4 : 2;
    // The standard error shown by --ci: llama.cpp's, recorded beside the metric.
    int fse = !strcmp(metric, "ppl") ? store_column_index("ppl_se")
            : !strcmp(metric, "kld_mean") ? store_column_index("kld_se") : -1;
    if (task_acc && !strncmp(metric, "acc_", 4) && strncmp(metric, "acc_norm_", 9)) {
        char se[112];   // acc_piqa -> acc_stderr_piqa
        snprintf(se, sizeof se, "acc_stderr_%s", metric + 4);
        fse = store_column_index(se);
    }
    t->ci = o->ci;
    t->replicates = 1;
    // Several models: each its own columns (a best across models would compare models).
    int fmod = store_column_index("model_name"), models = 0;
    for (int r = 1; r < s->n && fmod >= 0; r++) models |= !same(s, 0, r, fmod);
    const char *cols = o->cols ? o->cols : models ? "model_name,bits,group_size" : "bits,group_size";
    if (parse_key(&c.cols, cols, "--cols", e)) return -1;
    if (!o->rows || !strcmp(o->rows, "auto")) {
        const char *names[PARAM_COUNT + EXP_IN_COUNT];
        int n = 0;
        for (int i = 0; i < PARAM_COUNT; i++) names[n++] = param_name((param_id)i);
        n += data_params(names + n);
        c.rows.n = 0;
        for (int i = 0; i < n; i++) {
            const char *name = names[i];
            int f = store_column_index(name);
            // The seed is the replicate axis: its runs share a cell (mean +- sd).
            if (!strcmp(name, "seed")) continue;
            if (f >= 0 && !key_has(&c.cols, name) && c.rows.n < MAX_KEY) c.rows.f[c.rows.n++] = f;
        }
    } else if (parse_key(&c.rows, o->rows, "--rows", e)) {
        return -1;
    }
    for (int i = 0; i < c.rows.n; i++)
        for (int j = 0; j < c.cols.n; j++)
            if (c.rows.f[i] == c.cols.f[j])
                return ah_fail(e, "'%s' is in both --rows and --cols", col_name(c.rows.f[i]));
    if (s->n == 0) return ah_fail(e, "no complete runs in the results file");

    c.row_rep = malloc((size_t)s->n * sizeof *c.row_rep);
    c.col_rep = malloc((size_t)s->n * sizeof *c.col_rep);
    c.varies_q = calloc((size_t)store_summary_ncolumns, sizeof *c.varies_q);
    c.varies_r = calloc((size_t)store_summary_ncolumns, sizeof *c.varies_r);
    if (!c.row_rep || !c.col_rep || !c.varies_q || !c.varies_r) {
        ah_fail(e, "out of memory");
        goto done;
    }
    // Columns from the quantized runs, then from the FP16 runs that fit none of those (a
    // column keyed by method, or a results file of FP16 runs only).
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < s->n; r++) {
            if (is_ref(s, r) != pass) continue;
            int j = 0;
            while (j < t->n_cols && !(pass ? ref_fits(&c, r, c.col_rep[j])
                                           : key_same(s, &c.cols, c.col_rep[j], r))) j++;
            if (j == t->n_cols) c.col_rep[t->n_cols++] = r;
        }
    for (int r = 0; r < s->n; r++) {
        int i = 0;
        while (i < t->n_rows && !same_row(&c, c.row_rep[i], r)) i++;
        if (i == t->n_rows) c.row_rep[t->n_rows++] = r;
    }
    g_sort = &c;
    qsort(c.col_rep, (size_t)t->n_cols, sizeof *c.col_rep, cmp_cols);
    qsort(c.row_rep, (size_t)t->n_rows, sizeof *c.row_rep, cmp_rows);
    g_sort = NULL;

    size_t nc = (size_t)t->n_rows * (size_t)t->n_cols;
    t->row_label = calloc((size_t)t->n_rows, sizeof *t->row_label);
    t->row_ref = calloc((size_t)t->n_rows, sizeof *t->row_ref);
    t->col_label = calloc((size_t)t->n_cols, sizeof *t->col_label);
    t->col_pub = calloc((size_t)t->n_cols, sizeof *t->col_pub);
    t->cell = calloc(nc ? nc : 1, sizeof *t->cell);
    if (!t->row_label || !t->row_ref || !t->col_label || !t->col_pub || !t->cell) {
        ah_fail(e, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nc; i++) {
        t->cell[i].run = -1;
        t->cell[i].value = NAN;
        t->cell[i].se = NAN;
        t->cell[i].pub = NAN;
        t->cell[i].pub_source = -1;
    }
    find_varies(s, c.row_rep, t->n_rows, 0, c.varies_q);
    find_varies(s, c.row_rep, t->n_rows, 1, c.varies_r);
    for (int i = 0; i < t->n_rows; i++) {
        t->row_ref[i] = is_ref(s, c.row_rep[i]);
        key_label(t->row_label[i], REPORT_LABEL_CAP, &c, c.row_rep[i], &c.rows, 0,
                  t->row_ref[i] ? c.varies_r : c.varies_q);
    }
    for (int j = 0; j < t->n_cols; j++)
        key_label(t->col_label[j], REPORT_LABEL_CAP, &c, c.col_rep[j], &c.cols, 1, c.varies_q);

    // Place every run: its row by key; its column by key, or for FP16 runs every column
    // whose defined fields it matches.
    for (int r = 0; r < s->n; r++) {
        int i = 0;
        while (!same_row(&c, c.row_rep[i], r)) i++;
        int ref = is_ref(s, r);
        for (int j = 0; j < t->n_cols; j++) {
            if (!(ref ? ref_fits(&c, r, c.col_rep[j]) : key_same(s, &c.cols, c.col_rep[j], r))) continue;
            report_cell *cl = &t->cell[(size_t)i * t->n_cols + j];
            double x = nval(s, r, fm);
            if (cl->run >= 0) {
                if (!seed_replicates(s, cl->run, r)) {
                    cell_clash(&c, cl->run, r, t->row_label[i], t->col_label[j], e);
                    goto done;
                }
                // Welford's running mean and squared deviations of the replicates.
                double d = x - cl->value;
                cl->n_rep++;
                cl->value += d / cl->n_rep;
                cl->m2 += d * (x - cl->value);
                cl->sd = sqrt(cl->m2 / (cl->n_rep - 1));
                cl->se = NAN;   // a run's own standard error no longer describes the cell
                if (cl->n_rep > t->replicates) t->replicates = cl->n_rep;
                continue;
            }
            cl->run = r;
            cl->value = x;
            cl->n_rep = 1;
            cl->sd = NAN;
            cl->se = fse >= 0 ? nval(s, r, fse) : NAN;
        }
    }
    // Rows left empty (an FP16 run whose columns match nothing) are dropped.
    int kept = 0;
    for (int i = 0; i < t->n_rows; i++) {
        int any = 0;
        for (int j = 0; j < t->n_cols; j++) any |= t->cell[(size_t)i * t->n_cols + j].run >= 0;
        if (!any) continue;
        if (kept != i) {
            memcpy(t->row_label[kept], t->row_label[i], sizeof t->row_label[0]);
            t->row_ref[kept] = t->row_ref[i];
            memmove(&t->cell[(size_t)kept * t->n_cols], &t->cell[(size_t)i * t->n_cols],
                    (size_t)t->n_cols * sizeof *t->cell);
        }
        kept++;
    }
    t->n_rows = kept;
    mark_rows(t, s);
    // Two rows with one label would be ambiguous (it takes parameters /summary lacks).
    for (int i = 0; i < t->n_rows; i++)
        for (int j = i + 1; j < t->n_rows; j++)
            if (!strcmp(t->row_label[i], t->row_label[j])) {
                size_t L = strlen(t->row_label[j]);
                snprintf(t->row_label[j] + L, REPORT_LABEL_CAP - L, " #%d", j - i + 1);
            }
    for (int j = 0; j < t->n_cols; j++) {
        double best = t->better > 0 ? -INFINITY : INFINITY;
        for (int i = 0; i < t->n_rows; i++) {
            const report_cell *cl = &t->cell[(size_t)i * t->n_cols + j];
            if (!t->row_ref[i] && isfinite(cl->value) &&
                (t->better > 0 ? cl->value > best : cl->value < best))
                best = cl->value;
        }
        for (int i = 0; i < t->n_rows; i++) {
            report_cell *cl = &t->cell[(size_t)i * t->n_cols + j];
            cl->best = t->better && !t->row_ref[i] && isfinite(best) && cl->value == best;
        }
    }
    if (key_has(&c.rows, "method")) {
        snprintf(t->row_header, sizeof t->row_header, "Method");
    } else {
        lbuf b = {t->row_header, sizeof t->row_header, 0};
        for (int k = 0; k < c.rows.n; k++) add(&b, "%s%s", k ? ", " : "", col_name(c.rows.f[k]));
    }
    caption(t, &c, o);
    if (o->label) snprintf(t->label, sizeof t->label, "%s", o->label);
    else snprintf(t->label, sizeof t->label, "tab:%.64s-%.32s", s->experiment[0] ? s->experiment : "results", metric);
    rc = 0;
done:
    free(c.row_rep);
    free(c.col_rep);
    free(c.varies_q);
    free(c.varies_r);
    if (rc) report_table_free(t);
    return rc;
}

// ---- published numbers ----------------------------------------------------------------------

static int label_eq(const char *a, const char *b) {
    while (*a == ' ') a++;
    while (*b == ' ') b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == ' ') la--;
    while (lb && b[lb - 1] == ' ') lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static void note(report_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(report_table *t, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ah_buf_put(&t->notes, line, (size_t)n);
}

static int source_index(report_table *t, const char *src, ah_err *e) {
    for (int i = 0; i < t->n_sources; i++)
        if (!strcmp(t->sources[i], src)) return i;
    char (*g)[REPORT_SOURCE_CAP] = realloc(t->sources, (size_t)(t->n_sources + 1) * sizeof *g);
    if (!g) return ah_fail(e, "out of memory");
    t->sources = g;
    snprintf(t->sources[t->n_sources], REPORT_SOURCE_CAP, "%s", src);
    return t->n_sources++;
}

static int set_pub(report_table *t, report_cell *cl, report_pub *p, const report_published *all,
                   const char *where, ah_err *e) {
    if (cl->has_pub && cl->pub != p->value)
        return ah_fail(e, "%s:%d: a second published number (%g) for %s, which already has %g",
                       all->path, p->line, p->value, where, cl->pub);
    int si = source_index(t, p->source, e);
    if (si < 0) return -1;
    cl->has_pub = 1;
    cl->pub = p->value;
    cl->pub_source = si;
    p->matched++;
    return 0;
}

int report_attach_published(report_table *t, const store_summary *s, report_published *p,
                            ah_err *e) {
    for (int k = 0; k < p->n; k++) {
        report_pub *q = &p->e[k];
        q->matched = 0;
        for (int i = 0; i < t->n_rows; i++)
            for (int j = 0; j < t->n_cols; j++) {
                report_cell *cl = &t->cell[(size_t)i * t->n_cols + j];
                int hit = q->run[0] ? cl->run >= 0 && !strcmp(s->rows[cl->run].id, q->run)
                                    : label_eq(t->row_label[i], q->row) && label_eq(t->col_label[j], q->col);
                if (!hit) continue;
                char where[2 * REPORT_LABEL_CAP + 16];
                snprintf(where, sizeof where, "%s / %s", t->row_label[i], t->col_label[j]);
                if (set_pub(t, cl, q, p, where, e)) return -1;
                t->col_pub[j] = 1;
            }
        if (!q->matched) {
            if (q->run[0])
                note(t, "published, not in these results: run %s = %g (%s%s%s)", q->run, q->value,
                     q->source, q->note[0] ? "; " : "", q->note);
            else
                note(t, "published, not in these results: %s / %s = %g (%s%s%s)", q->row, q->col,
                     q->value, q->source, q->note[0] ? "; " : "", q->note);
        }
    }
    return 0;
}

void report_table_free(report_table *t) {
    if (!t) return;
    free(t->row_label);
    free(t->row_ref);
    free(t->col_label);
    free(t->col_pub);
    free(t->cell);
    free(t->sources);
    free(t->notes.p);
    memset(t, 0, sizeof *t);
}
