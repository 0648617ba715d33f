// gp.c — the gnuplot pipe (gp.h).
#include "plot/gp.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "method/method.h"

#define GP_QBUFS 8
#define GP_QCAP 1024

struct gp {
    FILE *p;
    char out[4096];
    struct sigaction old_pipe;
    char q[GP_QBUFS][GP_QCAP];
    int qi;
};

const char *const GP_COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                 "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
const int GP_NCOLORS = (int)(sizeof GP_COLORS / sizeof GP_COLORS[0]);

const char *gp_method_color(const char *m) {
    const method_traits *t = method_traits_named(m);   // every method has its colour there
    return t ? t->colour : NULL;
}

int gp_format_parse(const char *s, gp_format *f) {
    if (!strcmp(s, "png")) *f = GP_PNG;
    else if (!strcmp(s, "svg")) *f = GP_SVG;
    else if (!strcmp(s, "pdf")) *f = GP_PDF;
    else return -1;
    return 0;
}

const char *gp_format_ext(gp_format f) { return f == GP_SVG ? "svg" : f == GP_PDF ? "pdf" : "png"; }

int gp_find(char *buf, size_t cap, ah_err *e) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";   // what execvp assumes
    while (*path) {
        size_t n = strcspn(path, ":");
        int k = n ? snprintf(buf, cap, "%.*s/gnuplot", (int)n, path) : snprintf(buf, cap, "./gnuplot");
        struct stat st;
        if (k > 0 && (size_t)k < cap && stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return 0;
        path += n;
        if (*path == ':') path++;
    }
    buf[0] = '\0';
    return ah_fail(e, "gnuplot not found on PATH: install gnuplot-nox (make deps)");
}

void gp_printf(gp *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->p, fmt, ap);
    va_end(ap);
}

const char *gp_q(gp *g, const char *s) {
    char *b = g->q[g->qi];
    g->qi = (g->qi + 1) % GP_QBUFS;
    size_t o = 0;
    b[o++] = '\'';
    for (; s && *s && o + 3 < GP_QCAP; s++) {
        if (*s == '\'') b[o++] = '\'';
        b[o++] = *s == '\n' || *s == '\r' ? ' ' : *s;
    }
    b[o++] = '\'';
    b[o] = '\0';
    return b;
}

void gp_block_begin(gp *g, const char *name) { gp_printf(g, "$%s << EOD\n", name); }
void gp_block_end(gp *g) { gp_printf(g, "EOD\n"); }

// The shell word for path (single-quoted).
static int sh_quote(char *b, size_t cap, const char *s) {
    size_t o = 0;
    if (cap < 3) return -1;
    b[o++] = '\'';
    for (; *s; s++) {
        if (o + 6 >= cap) return -1;
        if (*s == '\'') {
            memcpy(b + o, "'\\''", 4);
            o += 4;
        } else {
            b[o++] = *s;
        }
    }
    b[o++] = '\'';
    b[o] = '\0';
    return 0;
}

static void preamble(gp *g, gp_format f) {
    static const char *const TERM[] = {
        [GP_PNG] = "set terminal pngcairo size 1000,650 noenhanced font 'Sans,13' linewidth 1.5 "
                   "rounded background rgb 'white'",
        [GP_SVG] = "set terminal svg size 1000,650 dynamic noenhanced font 'Sans,13' linewidth 1.5 "
                   "rounded background rgb 'white'",
        [GP_PDF] = "set terminal pdfcairo size 10in,6.5in noenhanced font 'Sans,13' fontscale 0.62 linewidth 1.1 pointscale 0.72 "
                   "rounded background rgb 'white'",
    };
    gp_printf(g, "set encoding utf8\n%s\nset output %s\n", TERM[f], gp_q(g, g->out));
    gp_printf(g, "set termoption noenhanced\n"
                 "set datafile missing '?'\n"
                 "set border 3 lw 1.2 lc rgb '#444444'\n"
                 "set tics nomirror out scale 0.7\n"
                 "set grid xtics ytics lw 1 lc rgb '#e4e4e4' dt 1\n"
                 "set key outside right top vertical Left reverse samplen 4 spacing 1.25 "
                 "width 1 noautotitle\n"
                 "set pointsize 1.2\n"
                 "set title font ',16'\n"
                 "set xlabel font ',13'\nset ylabel font ',13'\n");
}

gp *gp_open(const char *gnuplot, gp_format f, const char *out, ah_err *e) {
    gp *g = calloc(1, sizeof *g);
    if (!g) {
        ah_fail(e, "out of memory");
        return NULL;
    }
    if (snprintf(g->out, sizeof g->out, "%s", out) >= (int)sizeof g->out) {
        free(g);
        ah_fail(e, "%s: path too long", out);
        return NULL;
    }
    char qpath[4200], cmd[4300];
    if (sh_quote(qpath, sizeof qpath, gnuplot)) {
        free(g);
        ah_fail(e, "%s: path too long", gnuplot);
        return NULL;
    }
    snprintf(cmd, sizeof cmd, "exec %s", qpath);
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &g->old_pipe);
    fflush(NULL);   // nothing buffered of ours is written twice by the child
    if (!(g->p = popen(cmd, "w"))) {
        int err = errno;
        sigaction(SIGPIPE, &g->old_pipe, NULL);
        free(g);
        ah_fail(e, "cannot start %s: %s", gnuplot, strerror(err));
        return NULL;
    }
    preamble(g, f);
    return g;
}

int gp_close(gp *g, ah_err *e) {
    if (!g) return -1;
    gp_printf(g, "unset output\nexit\n");
    int werr = fflush(g->p) != 0 || ferror(g->p);
    int st = pclose(g->p);
    sigaction(SIGPIPE, &g->old_pipe, NULL);
    int rc = 0;
    struct stat sb;
    if (st == -1) {
        rc = ah_fail(e, "%s: waiting for gnuplot: %s", g->out, strerror(errno));
    } else if (WIFSIGNALED(st)) {
        rc = ah_fail(e, "%s: gnuplot killed by signal %d", g->out, WTERMSIG(st));
    } else if (WEXITSTATUS(st) == 127) {
        rc = ah_fail(e, "%s: gnuplot could not be started", g->out);
    } else if (WEXITSTATUS(st) != 0) {
        rc = ah_fail(e, "%s: gnuplot failed (exit status %d; its message is above)", g->out,
                     WEXITSTATUS(st));
    } else if (werr) {
        rc = ah_fail(e, "%s: writing to gnuplot failed", g->out);
    } else if (stat(g->out, &sb) != 0 || sb.st_size == 0) {
        rc = ah_fail(e, "%s: gnuplot wrote no figure", g->out);
    }
    if (rc) unlink(g->out);
    free(g);
    return rc;
}
