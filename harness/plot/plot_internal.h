// plot_internal.h — shared between plot.c (driver, options, helpers), plot_draw.c (line and
// bar drawing), plot_summary.c (kinds over /summary) and plot_layers.c (kinds over per-layer
// AWQ records).
#ifndef AH_PLOT_INTERNAL_H
#define AH_PLOT_INTERNAL_H

#include <stddef.h>

#include "experiment/config.h"
#include "plot/gp.h"
#include "plot/plot.h"
#include "store/store.h"

#define PL_MAX_COND 8
#define PL_MAX_LAYERS 64

typedef struct {
    const char *file;
    const store_summary *s;
    const exp_config *cfg;   // the stored INI parsed again; NULL when absent or unparsable
    char gnuplot[4096];
    gp_format fmt;
    char dir[4096];          // where figures go (created on the first one)
    char model[128];         // model_name of the runs
    char dataset[128];       // friendly name of the evaluation data ("TinyStories val")
    char subtitle[512];      // model · data · seqlen · windows · experiment
    double fp16;             // FP16 perplexity, NaN when the file has no fp16 run
    char fp_label[8];        // its name: FP16, or FP32 / BF16 by the checkpoint's weights_dtype
    plot_note_fn note;
    void *ctx;
} pl_ctx;

// `filter` conditions: column = one of values.
typedef struct {
    int col;
    int n;
    char val[8][64];
} pl_cond;

typedef struct {
    char name[64];          // output name (the kind for standard plots, else [plot.NAME])
    char kind[32];
    char title[256], xlabel[256], ylabel[256];   // "" = the kind's default
    int logx, logy;         // -1 = the kind's default (auto), 0 no, 1 yes
    char x[32], y[32];      // kind = line: summary columns
    int series[4], n_series;   // kind = line: columns naming a series
    pl_cond cond[PL_MAX_COND];
    int n_cond;
    char run[STORE_STR_CAP];   // per-run kinds: "" = the default run
    int layers[PL_MAX_LAYERS], n_layers;   // loss_vs_alpha: -1 = first/middle/last default
} pl_spec;

// A kind draws its figure(s) and returns 0, returns 1 with why filled when the file lacks what
// it needs, or -1 with e filled.
typedef int (*pl_kind_fn)(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);

int pl_ppl_vs_alpha(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_ppl_vs_group(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_ppl_vs_bits(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_kld_vs_bits(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_acc_vs_bits(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_ppl_vs_size(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_ppl_vs_decode(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_salient_bars(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_line(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_layer_alpha(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_scale_hist(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_loss_vs_alpha(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_ppl_vs_calib_samples(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);
int pl_ppl_vs_seed(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e);

// ---- rows (plot.c) --------------------------------------------------------------------------
double pl_num(const store_row *r, const char *col);        // NaN when missing
const char *pl_str(const store_row *r, const char *col);   // "" when missing
int pl_keep(const pl_spec *p, const store_row *r);         // passes p's filter
// A run of a method that scales with AWQ (the method table's MP_AWQ: awq, awq+gptq).
int pl_is_awq(const store_row *r);
// ... whose alpha was searched per layer (alpha_mode = search; files written before that
// column: no alpha and a searching rule).
int pl_is_searched_awq(const store_row *r);
// The run's method and its non-default settings: "awq", "awq duo no-clip", "salient 1% weight".
// flags: PL_V_ALPHA adds a fixed alpha; PL_V_NORULE leaves the scale rule out.
enum { PL_V_ALPHA = 1, PL_V_NORULE = 2 };
void pl_variant(const store_row *r, int flags, char *buf, size_t cap);
// "w3 g32", "w4 row"
void pl_bits_group(const store_row *r, char *buf, size_t cap);
// The figure's path: <dir>/<name><suffix>.<ext> (creates dir). Notes the figure as drawn
// after gp_close succeeded via pl_drawn.
int pl_out_path(const pl_ctx *c, const char *name, char *buf, size_t cap, ah_err *e);
void pl_drawn(const pl_ctx *c, const char *name, const char *path);
// The searched AWQ run a per-run kind draws: p->run, else the first in the file (passing the
// filter). 1 with why when there is none.
int pl_pick_run(const pl_ctx *c, const pl_spec *p, const store_row **out, char *why, size_t wcap);
// "perplexity (TinyStories val, lower is better)"
void pl_ppl_label(const pl_ctx *c, char *buf, size_t cap);

// ---- drawing (plot_draw.c) ------------------------------------------------------------------
typedef struct {
    char label[128];
    const char *color;   // NULL: the palette colour of the series' index
    int dash;            // gnuplot dash type (1 = solid)
    int point;           // point type (0 = lines only)
    int n, cap;
    double *x, *y;
    double *lo, *hi;     // [n] the y interval of each point (lo = hi = y when it has none)
    int n_err;           // points with an interval: drawn as error bars when > 0
} pl_series;

typedef struct {
    char label[160];
    double y;
    const char *color;
    int dash;
} pl_ref;

int pl_series_add(pl_series *s, double x, double y, ah_err *e);
// Gives the point just added its interval [lo, hi] (ignored unless both are finite).
void pl_series_err(pl_series *s, double lo, double hi);
// The 95% interval (ppl_lo, ppl_hi) of run r's perplexity on the point just added, when y is
// the perplexity and r has one (runs recorded before issue 19 do not).
void pl_series_ppl_err(pl_series *s, const store_row *r, const char *ycol);
void pl_series_sort(pl_series *s);   // by x
void pl_series_free(pl_series *s, int n);
// Index of the series labelled label in s[0..*n), appending a new empty one when absent
// (at most max). -1 when full.
int pl_series_find(pl_series *s, int *n, int max, const char *label);

// Opens gnuplot on figure `path` with title (p->title overrides), the subtitle, and axis
// labels (p->xlabel / p->ylabel override).
gp *pl_begin(const pl_ctx *c, const pl_spec *p, const char *path, const char *title,
             const char *xlabel, const char *ylabel, ah_err *e);
// Data blocks, then one plot command: series as lines with points (with error bars where a
// series has intervals: yerrorlines), references as horizontal lines. logy: 1 forces a log y axis, 0 linear, -1 auto (max/min > 10).
void pl_plot_lines(gp *g, const pl_series *s, int n, const pl_ref *r, int nr, int logy);
// Group-size x axis: log2 with per-row (-1) mapped right of the largest group; sets the tics
// from the x values of the series (which it remaps in place).
void pl_group_axis(gp *g, pl_series *s, int n);
// Long key entries (longest characters) go below the plot rather than right of it, so the
// plot area keeps its width.
void pl_key_place(gp *g, size_t longest, int entries);
// Tics of a log axis between lo and hi, denser the narrower the range.
void pl_log_tics(gp *g, char axis, double lo, double hi);

#endif
