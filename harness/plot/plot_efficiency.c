// plot_efficiency.c — accuracy against what quantization buys, from the /summary columns of
// [evaluation] efficiency (experiment/efficiency.h):
//   ppl_vs_size    perplexity vs the block linears' bytes in memory (MB), one line per method
//                  variant through its bit widths (each point labelled "w4 g128"), the FP run
//                  as a point
//   ppl_vs_decode  perplexity vs decode tokens/s of the KV-cached generation, the same way
// Lower left is better in the first, lower right in the second.
#include "plot/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SERIES 32
#define MAX_POINTS 64   // runs of one variant drawn (bits x group sizes)

// One series per method variant ("minmax", "awq", the FP run as its label) of y = ppl over
// x = xcol * xscale, for the runs with both values. Points go in in order of bits (the FP run
// has none), so a line joins a method's widths 2 -> 3 -> 4 -> 8 whatever their x: INT3 and
// INT4 hold the same bytes (3-bit codes take 4-bit slots) and only the order tells them apart.
// lab[k][i]: the label of point i of series k ("w4"; "" for the FP run).
static int eff_series(const pl_ctx *c, const pl_spec *p, const char *xcol, double xscale,
                      pl_series *s, int *ns, char (*lab)[MAX_POINTS][16], ah_err *e) {
    for (int b = 0; b <= 64; b++)   // b = 0: rows without bits (the FP run)
        for (int i = 0; i < c->s->n; i++) {
            const store_row *r = &c->s->rows[i];
            double x = pl_num(r, xcol), y = pl_num(r, "ppl"), bits = pl_num(r, "bits");
            int fp = !strcmp(pl_str(r, "method"), "fp16");
            if (!pl_keep(p, r) || isnan(x) || isnan(y) || !(x > 0)) continue;
            if (fp ? b != 0 : isnan(bits) || bits != b) continue;
            char label[128];
            if (fp) snprintf(label, sizeof label, "%s", c->fp_label);
            else pl_variant(r, 0, label, sizeof label);
            int k = pl_series_find(s, ns, MAX_SERIES, label);
            if (k < 0 || s[k].n >= MAX_POINTS) continue;
            if (s[k].n == 0) {
                const char *mc = gp_method_color(pl_str(r, "method"));
                s[k].color = fp ? "#000000" : mc ? mc : GP_COLORS[k % GP_NCOLORS];
                s[k].dash = 1;
                s[k].point = 7;
            }
            char g[24] = "";
            double gs = pl_num(r, "group_size");
            if (!fp && !isnan(gs)) snprintf(g, sizeof g, gs < 0 ? " row" : " g%g", gs);
            if (fp) lab[k][s[k].n][0] = '\0';
            else snprintf(lab[k][s[k].n], sizeof lab[k][0], "w%g%s", bits, g);
            if (pl_series_add(&s[k], x * xscale, y, e)) return -1;
            pl_series_ppl_err(&s[k], r, "ppl");
        }
    return 0;
}

static int draw(const pl_ctx *c, const pl_spec *p, const char *xcol, double xscale,
                const char *title, const char *xlabel, char *why, size_t wcap, ah_err *e) {
    pl_series s[MAX_SERIES];
    static char lab[MAX_SERIES][MAX_POINTS][16];   // point labels (static: 32 KiB)
    int ns = 0, rc = -1, points = 0;
    if (eff_series(c, p, xcol, xscale, s, &ns, lab, e)) goto done;
    for (int k = 0; k < ns; k++) points += s[k].n;
    if (points < 2) {
        snprintf(why, wcap, "needs 2 or more runs with %s (set [evaluation] efficiency = yes and "
                            "run the sweep again)", xcol);
        rc = 1;
        goto done;
    }
    char path[4096], yl[256];
    if (pl_out_path(c, p->name, path, sizeof path, e)) goto done;
    pl_ppl_label(c, yl, sizeof yl);
    gp *g = pl_begin(c, p, path, title, xlabel, yl, e);
    if (!g) goto done;
    // each point named by its width and group ("w4 g128") beside it
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++)
            if (lab[k][i][0])
                gp_printf(g, "set label \"%s\" at %.10g, %.10g offset 0.8, 0.5 font \",9\" tc rgb '%s'\n",
                          lab[k][i], s[k].x[i], s[k].y[i], s[k].color);
    pl_plot_lines(g, s, ns, NULL, 0, p->logy);
    if (gp_close(g, e)) goto done;
    pl_drawn(c, p->name, path);
    rc = 0;
done:
    pl_series_free(s, ns);
    return rc;
}

int pl_ppl_vs_size(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    return draw(c, p, "weight_bytes", 1e-6, "Perplexity vs weight memory",
                "block linears in memory (MB: packed codes + scales + zeros; FP: as stored)",
                why, wcap, e);
}

int pl_ppl_vs_decode(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    return draw(c, p, "decode_tok_s", 1.0, "Perplexity vs decoding speed",
                "decode tokens/s (KV-cached greedy, packed codes; threads as recorded)", why,
                wcap, e);
}
