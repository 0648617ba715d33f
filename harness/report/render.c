// render.c — a report_table as Markdown, LaTeX (booktabs) or CSV text (report.h).
//
// Every format has the same cells: a label column, then per column our value, and where the
// column has published numbers, the paper's value and ours minus the paper's. The best
// quantized value per column is bold (md, tex) or followed by '*' (csv).
#include "eval/ppl_unc.h"
#include "report/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A grid of strings: header rows first, then body rows; every row has `w` cells.
typedef struct {
    int w, h, cap;
    char **s;     // [h * w] malloc'd strings
    int *ref;     // [h] 1 for reference rows (a rule after them in tex)
} grid;

static int grid_row(grid *g, int ref) {
    if (g->h == g->cap) {
        int nc = g->cap ? 2 * g->cap : 16;
        char **s = realloc(g->s, (size_t)nc * (size_t)g->w * sizeof *s);
        if (!s) return -1;
        g->s = s;
        int *r = realloc(g->ref, (size_t)nc * sizeof *r);
        if (!r) return -1;
        g->ref = r;
        g->cap = nc;
    }
    for (int j = 0; j < g->w; j++) g->s[(size_t)g->h * g->w + j] = NULL;
    g->ref[g->h] = ref;
    return g->h++;
}

static int grid_set(grid *g, int i, int j, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int grid_set(grid *g, int i, int j, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    free(g->s[(size_t)i * g->w + j]);
    g->s[(size_t)i * g->w + j] = p;
    return 0;
}

static const char *grid_get(const grid *g, int i, int j) {
    const char *p = g->s[(size_t)i * g->w + j];
    return p ? p : "";
}

static void grid_free(grid *g) {
    for (size_t k = 0; k < (size_t)g->h * g->w; k++) free(g->s[k]);
    free(g->s);
    free(g->ref);
}

// Display width in characters (UTF-8 continuation bytes do not count).
static int width(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int put(ah_buf *b, const char *s) { return ah_buf_put(b, s, strlen(s)); }
static int putf(ah_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(ah_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    int rc = ah_buf_put(b, p, (size_t)n);
    free(p);
    return rc;
}
static int pad(ah_buf *b, int n) {
    for (int i = 0; i < n; i++)
        if (ah_buf_put(b, " ", 1)) return -1;
    return 0;
}

// Escapes for labels: md '|'; tex specials; csv quoting.
static void escape(char *out, size_t cap, const char *s, report_format f) {
    size_t o = 0;
    for (; *s && o + 16 < cap; s++) {
        const char *rep = NULL;
        if (f == REPORT_MD && *s == '|') rep = "\\|";
        if (f == REPORT_TEX) {
            switch (*s) {
            case '&': rep = "\\&"; break;
            case '%': rep = "\\%"; break;
            case '$': rep = "\\$"; break;
            case '#': rep = "\\#"; break;
            case '_': rep = "\\_"; break;
            case '{': rep = "\\{"; break;
            case '}': rep = "\\}"; break;
            case '~': rep = "\\textasciitilde{}"; break;
            case '^': rep = "\\textasciicircum{}"; break;
            case '\\': rep = "\\textbackslash{}"; break;
            default: break;
            }
            // The UTF-8 signs reports print: ±, †, Δ as math.
            if (!strncmp(s, "\xc2\xb1", 2)) rep = "$\\pm$", s += 1;
            else if (!strncmp(s, "\xe2\x80\xa0", 3)) rep = "$^\\dagger$", s += 2;
            else if (!strncmp(s, "\xce\x94", 2)) rep = "$\\Delta$", s += 1;
        }
        if (rep) {
            size_t l = strlen(rep);
            memcpy(out + o, rep, l);
            o += l;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    if (f == REPORT_CSV && strpbrk(out, ",\"\n")) {   // quote, doubling inner quotes
        char tmp[1024];
        size_t t = 0;
        tmp[t++] = '"';
        for (size_t i = 0; out[i] && t + 3 < sizeof tmp; i++) {
            if (out[i] == '"') tmp[t++] = '"';
            tmp[t++] = out[i];
        }
        tmp[t++] = '"';
        tmp[t] = '\0';
        snprintf(out, cap, "%s", tmp);
    }
}

static void number(char *out, size_t cap, double v, int digits, int sign) {
    if (isnan(v)) snprintf(out, cap, "nan");
    else if (isinf(v)) snprintf(out, cap, v > 0 ? "inf" : "-inf");
    else snprintf(out, cap, sign ? "%+.*f" : "%.*f", digits, v);
}

static const char *empty_cell(report_format f) {
    return f == REPORT_MD ? "\xe2\x80\x94" : f == REPORT_TEX ? "--" : "";   // md: an em dash
}

// The value as printed, read back: best is decided on what the reader sees, so two values
// that print alike are both marked.
static double shown(double v, int digits) {
    char b[64];
    snprintf(b, sizeof b, "%.*f", digits, v);
    return strtod(b, NULL);
}

// 1 when cell (i, j) holds its column's best printed value among the non-reference rows (the
// lowest, or the highest when t->better > 0; none when the metric has no better side).
static int is_best(const report_table *t, int i, int j, int digits) {
    const report_cell *c = &t->cell[(size_t)i * t->n_cols + j];
    if (!t->better || t->row_ref[i] || c->run < 0 || !isfinite(c->value)) return 0;
    if (t->rule == REPORT_RULE_PAIRED || t->rule == REPORT_RULE_REPLICATES) return c->sure;
    if (t->rule == REPORT_RULE_UNAVAILABLE) return 0;
    double mine = shown(c->value, digits);
    for (int k = 0; k < t->n_rows; k++) {
        const report_cell *o = &t->cell[(size_t)k * t->n_cols + j];
        if (t->row_ref[k] || o->run < 0 || !isfinite(o->value)) continue;
        double theirs = shown(o->value, digits);
        if (t->better > 0 ? theirs > mine : theirs < mine) return 0;
    }
    return 1;
}

// What the bold cells mean, for the caption ("" when nothing is marked by design).
static void rule_text(char *out, size_t cap, const report_table *t) {
    if (!t->better) snprintf(out, cap, "%s", "");
    else if (t->rule == REPORT_RULE_UNAVAILABLE)
        snprintf(out, cap, " Intervals unavailable (runs recorded without a standard error): "
                           "no value marked best.");
    else if (t->rule == REPORT_RULE_PAIRED)
    {
        char w[32] = "";
        if (t->windows > 0) snprintf(w, sizeof w, "%d ", t->windows);
        snprintf(out, cap, " Bold: the best quantized value of a column where it beats the "
                           "runner-up with 95%% confidence (paired bootstrap over the same %s"
                           "evaluation windows, %d resamples); none where the difference is within "
                           "the noise.", w, PPL_BOOT_RESAMPLES);
    }
    else if (t->rule == REPORT_RULE_REPLICATES)
        snprintf(out, cap, " Cells over seed replicates (runs differing only in the seed, which "
                           "draws the calibration sample): mean \xc2\xb1 sd (n = replicates). Bold: "
                           "the best quantized value of a column where its 95%% interval (t "
                           "interval of the mean; one run: 1.96 standard errors) lies clear of the "
                           "runner-up's; none where they overlap.");
    else snprintf(out, cap, " Best quantized value per column in bold.");
    if (t->ci && t->rule != REPORT_RULE_UNAVAILABLE) {
        size_t L = strlen(out);
        // Task accuracies carry lm-eval's standard error (sample sd / sqrt(n)).
        snprintf(out + L, cap - L, " \xc2\xb1: %s standard error.",
                 !strncmp(t->metric, "acc_", 4) ? "lm-eval's" : "llama.cpp's");
    }
}

// The body: label, then per column ours [, paper, diff].
static int fill_body(grid *g, const report_table *t, report_format f, int digits) {
    char lab[1024], num[64], pub[64], dif[64];
    for (int i = 0; i < t->n_rows; i++) {
        int r = grid_row(g, t->row_ref[i]);
        if (r < 0) return -1;
        escape(lab, sizeof lab, t->row_label[i], f);
        if (grid_set(g, r, 0, "%s", lab)) return -1;
        int c = 1;
        for (int j = 0; j < t->n_cols; j++) {
            const report_cell *cl = &t->cell[(size_t)i * t->n_cols + j];
            // An FP16 row has no KL divergence (it is the reference): empty, not "nan".
            if (cl->run < 0 || (t->row_ref[i] && isnan(cl->value)))
                snprintf(num, sizeof num, "%s", empty_cell(f));
            else number(num, sizeof num, cl->value, digits, 0);
            // Seed replicates: "mean ± sd (n=3)" in md and tex (csv: the mean).
            if (f != REPORT_CSV && cl->run >= 0 && cl->n_rep > 1) {
                char sd[64];
                number(sd, sizeof sd, cl->sd, digits, 0);
                size_t L = strlen(num);
                snprintf(num + L, sizeof num - L, f == REPORT_MD ? " \xc2\xb1 %s (n=%d)"
                         : " $\\pm$ %s ($n=%d$)", sd, cl->n_rep);
            }
            // --ci: "value ± se" in md and tex (csv stays one number per cell).
            else if (t->ci && f != REPORT_CSV && cl->run >= 0 && isfinite(cl->se)) {
                char se[64];
                number(se, sizeof se, cl->se, digits, 0);
                size_t L = strlen(num);
                snprintf(num + L, sizeof num - L, f == REPORT_MD ? " \xc2\xb1 %s" : " $\\pm$ %s", se);
            }
            int rc = !is_best(t, i, j, digits) ? grid_set(g, r, c, "%s", num)
                   : f == REPORT_MD ? grid_set(g, r, c, "**%s**", num)
                   : f == REPORT_TEX ? grid_set(g, r, c, "\\textbf{%s}", num)
                   : grid_set(g, r, c, "%s*", num);
            if (rc) return -1;
            c++;
            if (!t->col_pub[j]) continue;
            if (cl->has_pub) number(pub, sizeof pub, cl->pub, digits, 0);
            else snprintf(pub, sizeof pub, "%s", empty_cell(f));
            if (cl->has_pub && t->n_sources > 1 && f != REPORT_CSV) {   // [k]: listed below the table
                size_t L = strlen(pub);
                snprintf(pub + L, sizeof pub - L, " [%d]", cl->pub_source + 1);
            }
            if (cl->has_pub && cl->run >= 0 && isfinite(cl->value)) number(dif, sizeof dif, cl->value - cl->pub, digits, 1);
            else snprintf(dif, sizeof dif, "%s", empty_cell(f));
            if (grid_set(g, r, c++, "%s", pub) || grid_set(g, r, c++, "%s", dif)) return -1;
        }
    }
    return 0;
}

static int grid_width(const report_table *t) {
    int w = 1;
    for (int j = 0; j < t->n_cols; j++) w += t->col_pub[j] ? 3 : 1;
    return w;
}

static int any_pub(const report_table *t) {
    for (int j = 0; j < t->n_cols; j++)
        if (t->col_pub[j]) return 1;
    return 0;
}

// One line of notes per source, then the notes of report_attach_published, each line
// starting with `lead`.
static int footer(ah_buf *b, const report_table *t, const char *lead, report_format f) {
    char esc[1024];
    for (int i = 0; i < t->n_sources; i++) {
        escape(esc, sizeof esc, t->sources[i], f == REPORT_CSV ? REPORT_MD : f);
        const char *end = f == REPORT_TEX ? "}" : "";
        if (t->n_sources == 1 ? putf(b, "%spaper: %s%s\n", lead, esc, end)
                              : putf(b, "%s[%d] %s%s\n", lead, i + 1, esc, end))
            return -1;
    }
    const char *s = t->notes.p ? t->notes.p : "";
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)n, s);
        escape(esc, sizeof esc, line, f == REPORT_CSV ? REPORT_MD : f);
        if (putf(b, "%s%s%s\n", lead, esc, f == REPORT_TEX ? "}" : "")) return -1;
        s += n + (nl ? 1 : 0);
    }
    return 0;
}

static int render_md(ah_buf *b, const report_table *t, int digits) {
    grid g = {.w = grid_width(t)};
    int rc = -1;
    char lab[1024];
    int h = grid_row(&g, 0);
    if (h < 0 || grid_set(&g, h, 0, "%s", t->row_header)) goto done;
    for (int j = 0, c = 1; j < t->n_cols; j++) {
        escape(lab, sizeof lab, t->col_label[j], REPORT_MD);
        if (grid_set(&g, h, c++, "%s", lab)) goto done;
        if (t->col_pub[j] && (grid_set(&g, h, c++, "paper") || grid_set(&g, h, c++, "\xce\x94"))) goto done;
    }
    if (fill_body(&g, t, REPORT_MD, digits)) goto done;
    int *wd = calloc((size_t)g.w, sizeof *wd);
    if (!wd) goto done;
    for (int i = 0; i < g.h; i++)
        for (int j = 0; j < g.w; j++) {
            int x = width(grid_get(&g, i, j));
            if (x > wd[j]) wd[j] = x;
        }
    for (int j = 0; j < g.w; j++) if (wd[j] < 3) wd[j] = 3;
    char rule[512];
    rule_text(rule, sizeof rule, t);
    int bad = putf(b, "%s.%s\n\n", t->caption, rule);
    for (int i = 0; i < g.h && !bad; i++) {
        for (int j = 0; j < g.w && !bad; j++) {
            const char *s = grid_get(&g, i, j);
            int fill = wd[j] - width(s);
            bad |= put(b, "| ");
            if (j == 0) bad |= put(b, s) || pad(b, fill);
            else bad |= pad(b, fill) || put(b, s);
            bad |= put(b, " ");
        }
        bad |= put(b, "|\n");
        if (i == 0) {
            for (int j = 0; j < g.w && !bad; j++) {   // label left-aligned, numbers right
                bad |= put(b, j == 0 ? "|:" : "|");
                for (int k = 0; k < wd[j] + 1 && !bad; k++) bad |= put(b, "-");
                if (j) bad |= put(b, ":");
            }
            bad |= put(b, "|\n");
        }
    }
    free(wd);
    if (bad) goto done;
    if ((t->n_sources || (t->notes.p && *t->notes.p)) && (put(b, "\n") || footer(b, t, "", REPORT_MD)))
        goto done;
    rc = 0;
done:
    grid_free(&g);
    return rc;
}

static int render_tex(ah_buf *b, const report_table *t, int digits) {
    grid g = {.w = grid_width(t)};
    int rc = -1, pub = any_pub(t);
    char lab[1024];
    if (fill_body(&g, t, REPORT_TEX, digits)) goto done;
    // A complete table environment (booktabs): caption, label, the tabular, notes below it.
    char rule[1024], cap[2048], text[4096];
    rule_text(rule, sizeof rule, t);
    snprintf(cap, sizeof cap, "%s.%s", t->caption, rule);
    escape(text, sizeof text, cap, REPORT_TEX);
    int bad = putf(b, "\\begin{table}[t]\n\\centering\n\\caption{%s}\n\\label{%s}\n", text,
                   t->label);
    bad |= put(b, "\\begin{tabular}{l");
    for (int j = 1; j < g.w; j++) bad |= put(b, "r");
    bad |= put(b, "}\n\\toprule\n");
    // Header: the column labels (spanning ours / paper / diff where published), then the
    // sub-header when any column has published numbers.
    char head[2 * REPORT_LABEL_CAP];
    escape(head, sizeof head, t->row_header, REPORT_TEX);
    bad |= put(b, pub ? "" : head);
    for (int j = 0, c = 2; j < t->n_cols; j++) {
        escape(lab, sizeof lab, t->col_label[j], REPORT_TEX);
        if (t->col_pub[j]) bad |= putf(b, " & \\multicolumn{3}{c}{%s}", lab);
        else bad |= putf(b, " & %s", lab);
        c += t->col_pub[j] ? 3 : 1;
    }
    bad |= put(b, " \\\\\n");
    if (pub) {
        for (int j = 0, c = 2; j < t->n_cols; j++) {
            if (t->col_pub[j]) bad |= putf(b, "\\cmidrule(lr){%d-%d}", c, c + 2);
            c += t->col_pub[j] ? 3 : 1;
        }
        bad |= putf(b, "\n%s", head);
        for (int j = 0; j < t->n_cols; j++)
            bad |= put(b, t->col_pub[j] ? " & ours & paper & $\\Delta$" : " & ");
        bad |= put(b, " \\\\\n");
    }
    bad |= put(b, "\\midrule\n");
    for (int i = 0; i < g.h && !bad; i++) {
        for (int j = 0; j < g.w; j++) bad |= putf(b, "%s%s", j ? " & " : "", grid_get(&g, i, j));
        bad |= put(b, " \\\\\n");
        if (g.ref[i] && i + 1 < g.h && !g.ref[i + 1]) bad |= put(b, "\\midrule\n");
    }
    bad |= put(b, "\\bottomrule\n\\end{tabular}\n");
    if (bad || footer(b, t, "\\par{\\footnotesize ", REPORT_TEX) || put(b, "\\end{table}\n"))
        goto done;
    rc = 0;
done:
    grid_free(&g);
    return rc;
}

static int render_csv(ah_buf *b, const report_table *t, int digits) {
    grid g = {.w = grid_width(t)};
    int rc = -1;
    char lab[1024], tmp[REPORT_LABEL_CAP + 16];
    int h = grid_row(&g, 0);
    escape(lab, sizeof lab, !strcmp(t->row_header, "Method") ? "method" : t->row_header, REPORT_CSV);
    if (h < 0 || grid_set(&g, h, 0, "%s", lab)) goto done;
    for (int j = 0, c = 1; j < t->n_cols; j++) {
        escape(lab, sizeof lab, t->col_label[j], REPORT_CSV);
        if (grid_set(&g, h, c++, "%s", lab)) goto done;
        if (!t->col_pub[j]) continue;
        snprintf(tmp, sizeof tmp, "%s (paper)", t->col_label[j]);
        escape(lab, sizeof lab, tmp, REPORT_CSV);
        if (grid_set(&g, h, c++, "%s", lab)) goto done;
        snprintf(tmp, sizeof tmp, "%s (diff)", t->col_label[j]);
        escape(lab, sizeof lab, tmp, REPORT_CSV);
        if (grid_set(&g, h, c++, "%s", lab)) goto done;
    }
    if (fill_body(&g, t, REPORT_CSV, digits)) goto done;
    int bad = 0;
    for (int i = 0; i < g.h && !bad; i++) {
        for (int j = 0; j < g.w; j++) bad |= putf(b, "%s%s", j ? "," : "", grid_get(&g, i, j));
        bad |= put(b, "\n");
    }
    if (bad) goto done;
    rc = 0;
done:
    grid_free(&g);
    return rc;
}

int report_format_parse(const char *s, report_format *f) {
    if (!strcmp(s, "md") || !strcmp(s, "markdown")) *f = REPORT_MD;
    else if (!strcmp(s, "tex") || !strcmp(s, "latex")) *f = REPORT_TEX;
    else if (!strcmp(s, "csv")) *f = REPORT_CSV;
    else return -1;
    return 0;
}

int report_render(ah_buf *out, const report_table *t, report_format f, int digits, ah_err *e) {
    if (digits < 0) digits = f == REPORT_CSV ? (t->digits > 2 ? 6 : 4) : t->digits > 0 ? t->digits : 2;
    if (digits > 12) digits = 12;
    int rc = f == REPORT_MD ? render_md(out, t, digits) : f == REPORT_TEX ? render_tex(out, t, digits)
                                                        : render_csv(out, t, digits);
    return rc ? ah_fail(e, "out of memory rendering the table") : 0;
}
