// plot.h — figures from a results file (docs/PLOTS.md is the user guide).
//
// Standard kinds, each drawn only when the file holds what it needs (otherwise skipped with
// one line saying why):
//   ppl_vs_alpha   ppl vs fixed AWQ alpha, one line per (bits, group); searched run and FP16
//                  as reference lines
//   ppl_vs_group   ppl vs group size (log2 x, per-row at the right), one line per (method, bits)
//   ppl_vs_bits    ppl vs bits, one line per method (log y when max/min ppl > 10), FP16 line
//   kld_vs_bits    mean KL divergence from FP16 vs bits, one line per method (log y)
//   salient_bars   grouped bars of ppl by salient_pct, one bar per salient_by (AWQ Table 1)
//   layer_alpha    chosen alpha per layer of every searched AWQ run
//   scale_hist     histogram of the AWQ scales of one searched run, per scale group
//   loss_vs_alpha  AWQ loss-vs-alpha curves of chosen layers of one searched run
//   ppl_vs_calib_samples  ppl vs calibration sequences (log2 x), mean +- sd over seeds
//   ppl_vs_seed    each seed replicate's ppl with its 95% interval (plot_calib.c)
//   ppl_vs_size    ppl vs the block linears' bytes in memory, ppl_vs_decode ppl vs decode
//                  tokens/s ([evaluation] efficiency; plot_efficiency.c)
// plus the [plot.NAME] sections of the experiment INI stored in the file (a standard kind with
// options, or kind = line over /summary columns). Figures go to OUT/<experiment>/<name>.<ext>.
//
// gnuplot runs as a child process over a pipe, one per figure; data is sent inline. The
// results file is only ever opened read-only.
#ifndef AH_PLOT_H
#define AH_PLOT_H

#include "core/err.h"
#include "plot/gp.h"

typedef enum { PLOT_DRAWN, PLOT_SKIPPED, PLOT_FAILED, PLOT_WARNING } plot_event;

// One line of news: DRAWN (text = the figure's path), SKIPPED (text = why), FAILED (text =
// the error), WARNING (name may be ""). Library code does not print; the caller does.
typedef void (*plot_note_fn)(void *ctx, plot_event ev, const char *name, const char *text);

typedef struct {
    const char *results;   // results file (read-only)
    const char *out_dir;   // NULL = "plots"
    gp_format fmt;
    const char *only;      // draw only this plot (a standard kind or a [plot.NAME]); NULL = all
    const char *ini;       // --ini FILE: more [plot.NAME] sections (one of a stored name replaces it)
    plot_note_fn note;
    void *ctx;
} plot_opts;

typedef struct {
    int drawn, skipped, failed;   // figures drawn, plots skipped, plots that failed
} plot_counts;

// Draws the plots. Returns -1 (e filled) when nothing can be drawn at all: gnuplot missing,
// not a results file, --only naming no plot. A plot that fails on its own is noted as
// FAILED and counted; the others are still drawn.
int plot_results(const plot_opts *o, plot_counts *n, ah_err *e);

// The standard kinds, in drawing order.
extern const char *const PLOT_KINDS[];
extern const int PLOT_NKINDS;

#endif
