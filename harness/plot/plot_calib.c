// plot_calib.c — the kinds over the calibration axes (issue 19): ppl_vs_calib_samples and
// ppl_vs_seed.
//
// ppl_vs_calib_samples: perplexity against the number of calibration sequences (log2 x), one
//   line per method variant (and bits, model where several): each point is the mean over the
//   seed replicates of that size, its error bar mean +- sd (n >= 2), or the run's own 95%
//   interval when there is one seed. The AWQ paper's Figure 8(a).
// ppl_vs_seed: every replicate's perplexity against its seed, one line per variant and size,
//   with the runs' 95% intervals: how far the calibration sample moves a result.
#include "plot/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 32

static const int POINTS[] = {7, 5, 9, 11, 13, 15};
static const int DASHES[] = {1, 2, 4, 5, 3};

// A quantized run with the calibration sample's parameters and a perplexity.
static int calibrated_run(const pl_spec *p, const store_row *r) {
    return pl_keep(p, r) && strcmp(pl_str(r, "method"), "fp16") && !isnan(pl_num(r, "ppl")) &&
           !isnan(pl_num(r, "calib_samples")) && !isnan(pl_num(r, "seed"));
}

// Whether column col takes two or more values among the calibrated runs.
static int varies(const pl_ctx *c, const pl_spec *p, const char *col) {
    const store_row *first = NULL;
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (!calibrated_run(p, r)) continue;
        if (!first) first = r;
        else if (strcmp(pl_str(r, col), pl_str(first, col)) || (pl_num(r, col) != pl_num(first, col) &&
                 !(isnan(pl_num(r, col)) && isnan(pl_num(first, col)))))
            return 1;
    }
    return 0;
}

// The series label of run r: its variant, plus what else varies (bits, model, calibration
// source, and for ppl_vs_seed the size). Colours by method: one colour per method in every
// figure (the method table's).
static void label_of(const pl_ctx *c, const pl_spec *p, const store_row *r, int with_size,
                     char *buf, size_t cap) {
    char v[128];
    pl_variant(r, PL_V_ALPHA, v, sizeof v);
    size_t o = (size_t)snprintf(buf, cap, "%s", v);
    if (varies(c, p, "bits") && o < cap) o += (size_t)snprintf(buf + o, cap - o, " w%g", pl_num(r, "bits"));
    if (varies(c, p, "model_name") && o < cap) o += (size_t)snprintf(buf + o, cap - o, " [%s]", pl_str(r, "model_name"));
    if (varies(c, p, "calib") && o < cap) {
        const char *s = pl_str(r, "calib"), *slash = strrchr(s, '/');
        o += (size_t)snprintf(buf + o, cap - o, " cal=%.24s", slash ? slash + 1 : s);
    }
    if (with_size && o < cap) snprintf(buf + o, cap - o, " n=%g", pl_num(r, "calib_samples"));
}

static void style(pl_series *s, const store_row *r, int k) {
    const char *mc = gp_method_color(pl_str(r, "method"));
    s->color = mc ? mc : GP_COLORS[(k + 4) % GP_NCOLORS];
    s->dash = DASHES[k % 5];
    s->point = POINTS[k % 6];
}

static int draw(const pl_ctx *c, const pl_spec *p, pl_series *s, int ns, const char *title,
                const char *xlabel, const char *extra, ah_err *e) {
    char path[4096], yl[256];
    pl_ppl_label(c, yl, sizeof yl);
    if (pl_out_path(c, p->name, path, sizeof path, e)) return -1;
    gp *g = pl_begin(c, p, path, title, xlabel, yl, e);
    if (!g) return -1;
    gp_printf(g, "%s", extra);
    for (int i = 0; i < ns; i++) pl_series_sort(&s[i]);
    // The FP line of the drawn runs' model (passing the filter): with several models none, as
    // one model's baseline would mislead beside another's runs.
    pl_ref ref = {.y = NAN, .color = "#000000", .dash = 4};
    const store_row *first = NULL;
    for (int i = 0; i < c->s->n && !first; i++)
        if (calibrated_run(p, &c->s->rows[i])) first = &c->s->rows[i];
    for (int i = 0; i < c->s->n && first && !varies(c, p, "model_name"); i++) {
        const store_row *r = &c->s->rows[i];
        if (strcmp(pl_str(r, "method"), "fp16") || !pl_keep(p, r) ||
            strcmp(pl_str(r, "model_name"), pl_str(first, "model_name")) ||
            strcmp(pl_str(r, "eval_data"), pl_str(first, "eval_data")))
            continue;
        const char *d = pl_str(r, "weights_dtype");
        ref.y = pl_num(r, "ppl");
        snprintf(ref.label, sizeof ref.label, "%s (%.3f)",
                 !strcmp(d, "F32") ? "FP32" : !strcmp(d, "BF16") ? "BF16" : "FP16", ref.y);
    }
    pl_plot_lines(g, s, ns, &ref, isnan(ref.y) ? 0 : 1, p->logy);
    if (gp_close(g, e)) return -1;
    pl_drawn(c, p->name, path);
    return 0;
}

int pl_ppl_vs_calib_samples(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    pl_series s[MAX_SERIES];
    int ns = 0, rc = -1;
    memset(s, 0, sizeof s);
    if (!varies(c, p, "calib_samples")) {
        snprintf(why, wcap, "needs calibrated runs at 2 or more calibration sizes (sweep "
                            "calib_samples = 16, 32, 64, 128)");
        return 1;
    }
    // Each (series, size): the mean and sd of its seed replicates.
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (!calibrated_run(p, r)) continue;
        char label[200];
        label_of(c, p, r, 0, label, sizeof label);
        int k = pl_series_find(s, &ns, MAX_SERIES, label);
        if (k < 0) continue;
        double x = pl_num(r, "calib_samples");
        int seen = 0;
        for (int j = 0; j < s[k].n; j++) seen |= s[k].x[j] == x;
        if (seen) continue;   // this size's replicates were gathered with its first run
        if (s[k].n == 0) style(&s[k], r, k);
        double sum = 0, sq = 0, lo = NAN, hi = NAN;
        int n = 0;
        for (int q = 0; q < c->s->n; q++) {
            const store_row *o = &c->s->rows[q];
            char l2[200];
            if (!calibrated_run(p, o) || pl_num(o, "calib_samples") != x) continue;
            label_of(c, p, o, 0, l2, sizeof l2);
            if (strcmp(l2, label)) continue;
            double y = pl_num(o, "ppl");
            sum += y;
            sq += y * y;
            lo = pl_num(o, "ppl_lo");
            hi = pl_num(o, "ppl_hi");
            n++;
        }
        double mean = sum / n;
        if (pl_series_add(&s[k], x, mean, e)) goto done;
        if (n > 1) {
            double sd = sqrt(fmax(0.0, (sq - n * mean * mean) / (n - 1)));
            pl_series_err(&s[k], mean - sd, mean + sd);
        } else {
            pl_series_err(&s[k], lo, hi);
        }
    }
    rc = draw(c, p, s, ns, "Perplexity vs calibration set size (mean +- sd over seeds)",
              "calibration sequences (log2 scale)", "set logscale x 2\n", e);
done:
    pl_series_free(s, ns);
    return rc;
}

int pl_ppl_vs_seed(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    pl_series s[MAX_SERIES];
    int ns = 0, rc = -1;
    memset(s, 0, sizeof s);
    if (!varies(c, p, "seed")) {
        snprintf(why, wcap, "needs calibrated runs with 2 or more seeds (sweep seed = 0, 1, 2)");
        return 1;
    }
    int sizes = varies(c, p, "calib_samples");
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (!calibrated_run(p, r)) continue;
        char label[200];
        label_of(c, p, r, sizes, label, sizeof label);
        int k = pl_series_find(s, &ns, MAX_SERIES, label);
        if (k < 0) continue;
        if (s[k].n == 0) style(&s[k], r, k);
        if (pl_series_add(&s[k], pl_num(r, "seed"), pl_num(r, "ppl"), e)) goto done;
        pl_series_ppl_err(&s[k], r, "ppl");
    }
    // Series side by side around each seed, so that their intervals can be told apart.
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < s[i].n; k++) s[i].x[k] += 0.05 * (i - (ns - 1) / 2.0);
    rc = draw(c, p, s, ns, "Perplexity of each seed (calibration sample) with its 95% interval",
              "seed (draws the calibration sample)", "set xtics 1\nset offsets 0.3, 0.3, 0, 0\n", e);
done:
    pl_series_free(s, ns);
    return rc;
}
