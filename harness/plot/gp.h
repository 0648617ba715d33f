// gp.h — gnuplot driven through a pipe: one process per figure, data sent inline as datablocks
// (`$name << EOD`), so nothing but the figure itself is written to disk.
//
// Every figure uses the same terminal settings: PNG via pngcairo (1000x650 px), SVG via svg,
// PDF via pdfcairo (10 x 6.5 in), text not "enhanced" (names like ppl_vs_alpha print as
// written), a white background and the palette below.
#ifndef AH_PLOT_GP_H
#define AH_PLOT_GP_H

#include <stddef.h>

#include "core/err.h"

typedef enum { GP_PNG, GP_SVG, GP_PDF } gp_format;

int gp_format_parse(const char *s, gp_format *f);   // "png", "svg", "pdf"
const char *gp_format_ext(gp_format f);

// Finds an executable `gnuplot` on PATH and writes its path into buf. Error: "gnuplot not
// found on PATH: install gnuplot-nox (make deps)".
int gp_find(char *buf, size_t cap, ah_err *e);

typedef struct gp gp;

// Starts `gnuplot` (the path gp_find gave) writing figure `out` in format f. The preamble
// (terminal, output, fonts, grid, line styles) is already sent. SIGPIPE is ignored while the
// pipe is open (a gnuplot that died is reported by gp_close, not by a signal).
gp *gp_open(const char *gnuplot, gp_format f, const char *out, ah_err *e);
void gp_printf(gp *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// A gnuplot single-quoted string literal of s (quotes doubled, newlines kept out). The result
// lives in g and stays valid for the next 7 calls.
const char *gp_q(gp *g, const char *s);
// Datablock $name: begin, then rows with gp_printf, then end.
void gp_block_begin(gp *g, const char *name);
void gp_block_end(gp *g);
// Finishes the figure: closes the output, waits for gnuplot and checks its exit status. On
// failure the (partial) figure file is removed. Frees g either way. NULL-safe (returns -1).
int gp_close(gp *g, ah_err *e);

// Palette: distinguishable colours for series, and fixed colours for methods so that a
// method looks the same in every figure.
extern const char *const GP_COLORS[];
extern const int GP_NCOLORS;
const char *gp_method_color(const char *method);   // NULL for an unknown method

#endif
