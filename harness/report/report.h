// report.h — paper-style tables from a results file's /summary (docs/REPORTS.md).
//
// A table has one row per method variant and one column per (bits, group) combination by
// default; a cell is one run's metric (perplexity unless asked otherwise). Which /summary
// columns key the rows and the columns is configurable:
//   cols  default "bits,group_size"
//   rows  default: every run parameter that is not a column, but the seed (method, bits, group_size,
//         scale_rule, alpha, clip, propagate, salient_pct, salient_by, salient_scale,
//         scale_pct, calib, eval_data, seqlen); the label shows only those that vary
//         ("AWQ", "AWQ (duo)", "1% FP16 (act.)", "s=2", "MinMax clip=off").
// FP16 runs are the reference: a parameter they lack (bits, group_size) matches every column,
// so the FP16 row is filled across the table. The lowest finite value per column among the
// other rows is "best" (the renderers compare values as printed, so ties are all marked);
// report_mark_confident then keeps the mark only where the best beats the runner-up with 95%
// confidence over the evaluation windows (docs/UNCERTAINTY.md).
// Runs that differ only in `seed` are replicates: they share a cell, shown as mean +- sd with
// their count (docs/UNCERTAINTY.md). Two other runs falling in one cell is an error naming
// both and the parameters they differ in.
//
// Published numbers (report_published_load) are matched to cells by run id or by row and
// column labels; each matched column gets the paper's value and ours minus the paper's.
//
// Library code: it fills structures and text buffers and returns errors through ah_err;
// printing is the caller's (cmd_report.c).
#ifndef AH_REPORT_H
#define AH_REPORT_H

#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"

#define REPORT_LABEL_CAP 128
#define REPORT_SOURCE_CAP 256

// ---- published numbers --------------------------------------------------------------------

// One published number: a run id, or a row and a column label, with its value and source.
typedef struct {
    char run[STORE_STR_CAP];          // run id ("" when given by labels)
    char row[REPORT_LABEL_CAP];       // row label ("" when given by run id)
    char col[REPORT_LABEL_CAP];       // column label ("" when given by run id)
    double value;
    char source[REPORT_SOURCE_CAP];   // citation: paper, table
    char note[REPORT_SOURCE_CAP];     // optional remark ("" when none)
    int line;                         // line in the file (for errors and notes)
    int matched;                      // cells it was placed in (report_attach_published)
} report_pub;

typedef struct {
    char path[1024];
    int n;
    report_pub *e;   // [n]
} report_published;

// Reads a published-numbers file: CSV or TSV (tab-separated when the header line holds a
// tab), '#' comment lines and blank lines ignored, a header line naming the columns
// run, row, column, value, source, note (any order; value and source required, and run or
// both row and column; note optional). CSV fields may be double-quoted ("" inside quotes is
// one quote). Errors name the file and line.
int report_published_load(report_published *p, const char *path, ah_err *e);
void report_published_free(report_published *p);   // NULL-safe

// ---- the table ----------------------------------------------------------------------------

typedef enum { REPORT_MD, REPORT_TEX, REPORT_CSV } report_format;

// "md", "tex", "csv" -> *f; -1 when unknown.
int report_format_parse(const char *s, report_format *f);

typedef struct {
    const char *rows;     // comma list of /summary columns; NULL or "auto" = the default above
    const char *cols;     // comma list; NULL = "bits,group_size"
    const char *metric;   // a numeric /summary column, or "kld" (= kld_mean); NULL = "ppl"
    const char *model;    // model name for the caption (NULL = none)
    const char *file;     // results file name for the caption (NULL = none)
    int ci;               // md/tex cells "value ± se" where the metric has a standard error
    const char *label;    // tex \label (NULL: "tab:<experiment>-<metric>")
} report_opts;

// How the best value of a column is marked. REPORT_RULE_PRINTED: the lowest (highest) value as
// printed, for metrics with no per-window values, and tables report_mark_confident was not run
// on. REPORT_RULE_PAIRED: only where the best beats the runner-up with 95% confidence (paired
// bootstrap over the windows). REPORT_RULE_UNAVAILABLE: a run lacks its interval (recorded
// before issue 19): no value marked.
// REPORT_RULE_REPLICATES: cells averaging seed replicates (n_rep > 1): the best is marked only
// where its 95% interval of the mean lies clear of the runner-up's (report_mark_confident).
typedef enum { REPORT_RULE_PRINTED, REPORT_RULE_PAIRED, REPORT_RULE_UNAVAILABLE,
               REPORT_RULE_REPLICATES } report_rule;

typedef struct {
    int run;             // index into the summary's rows, -1 when the cell is empty
    double value;        // the metric (NaN when empty)
    int best;            // best finite value of its column among non-reference rows (better)
                         // (exact; the renderers mark the lowest value as printed)
    double se;           // the value's standard error (ppl_se, kld_se), NaN when none
    // Seed replicates (runs that differ only in `seed` share a cell): value is their mean,
    // sd their sample standard deviation (NaN for one run), n_rep how many; m2 the running
    // sum of squared deviations (Welford) while the table is built.
    int n_rep;
    double sd, m2;
    int sure;            // report_mark_confident: best, and better than the runner-up with 95%
                         // confidence
    int has_pub;         // a published number was matched here
    double pub;
    int pub_source;      // index into report_table.sources
} report_cell;

typedef struct {
    int n_rows, n_cols;
    char row_header[REPORT_LABEL_CAP];     // "Method", or the row fields ("bits, clip")
    char (*row_label)[REPORT_LABEL_CAP];   // [n_rows]
    int *row_ref;                          // [n_rows] 1 for FP16 reference rows
    char (*col_label)[REPORT_LABEL_CAP];   // [n_cols]
    int *col_pub;                          // [n_cols] 1 when any cell of the column has a published number
    report_cell *cell;                     // [n_rows * n_cols], row-major
    char metric[32];
    int better;                            // -1 lower is better (bold: the lowest), +1 higher,
                                           // 0 neither (Δp: none is marked)
    int digits;                            // decimals for md/tex when not asked (2; KLD 4)
    int ci;                                // cells show value ± se (report_opts.ci)
    int replicates;                        // the most seed replicates in a cell (1: none)
    report_rule rule;                      // how "best" was decided (report_mark_confident)
    int windows;                           // REPORT_RULE_PAIRED: the windows resampled (0: varied)
    char caption[768];
    char label[160];                       // tex \label: "tab:<experiment>-<metric>" (or --label)
    int n_sources;
    char (*sources)[REPORT_SOURCE_CAP];    // distinct sources of matched published numbers
    ah_buf notes;                          // lines for below the table ("" when none)
} report_table;

// `--filter KEY=V[,V...]` (filter.c): view holds the runs of s that match every spec (one of
// its values each); its rows point into s (free view->rows alone, never with
// store_summary_free). Values are checked as INI values are (alpha=banana is an error), and a
// value no run has is an error that lists the values the runs have.
int report_filter(store_summary *view, const store_summary *s, const char *const *specs, int n,
                  ah_err *e);

// Builds the table from a summary. Errors: an unknown column name, no runs, two runs in a cell.
int report_build(report_table *t, const store_summary *s, const report_opts *o, ah_err *e);
// Places published numbers in the table's cells (by run id, else by labels, compared without
// case and surrounding blanks). Numbers that match no cell are listed in t->notes.
int report_attach_published(report_table *t, const store_summary *s, report_published *p,
                            ah_err *e);
// Appends the table in format f to out. digits < 0: 2 for md and tex, 4 for csv.
int report_render(ah_buf *out, const report_table *t, report_format f, int digits, ah_err *e);
void report_table_free(report_table *t);   // NULL-safe

// ---- confidence (confident.c, docs/UNCERTAINTY.md) -----------------------------------------

// The per-window values of summary row `run` that the table's metric averages (nll_per_window
// for ppl and nll, kld_per_window for kld_mean): *v malloc'd [*n], and the run's evaluation
// data hash into hash[cap]. Returns -1 with e set when it cannot be read.
typedef int (*report_windows_fn)(void *ctx, int run, double **v, size_t *n, char *hash,
                                 size_t cap, ah_err *e);

// The per-window dataset behind a metric ("nll_per_window", "kld_per_window"), NULL when the
// metric has none.
const char *report_window_dataset(const char *metric);

// A report_windows_fn reading the results file path: dataset of the summary's run (ctx).
typedef struct {
    const char *path;
    const store_summary *s;
    const char *dataset;   // report_window_dataset(metric)
} report_file_windows;
int report_windows_file(void *ctx, int run, double **v, size_t *n, char *hash, size_t cap,
                        ah_err *e);

// `report --compare A B` (compare.c): runs A and B of the summary (ids) paired over the
// windows both scored, B - A in perplexity and in mean NLL with 95% bootstrap intervals,
// appended to out as text. Errors: an unknown id, other evaluation data, other window counts.
int report_compare(ah_buf *out, const char *path, const store_summary *s, const char *a,
                   const char *b, ah_err *e);

// Decides t's bold cells by the paired rule (REPORT_RULE_PAIRED): in each column the best
// value is marked only when a paired bootstrap over the same windows (ppl_boot_paired,
// 1000 resamples, fixed seed) puts the runner-up's mean above (below, for a higher-is-better
// metric) the best's with 95% confidence; not when the two were evaluated on different data
// (hash) or window counts, nor when a column has one quantized value. A run without its
// standard error (ppl_se / kld_se missing: recorded before it existed) makes the rule
// REPORT_RULE_UNAVAILABLE and marks nothing. A metric with no per-window values keeps
// REPORT_RULE_PRINTED. s: the summary t was built from.
int report_mark_confident(report_table *t, const store_summary *s, const char *metric,
                          report_windows_fn load, void *ctx, ah_err *e);

#endif
