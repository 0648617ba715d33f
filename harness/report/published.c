// published.c — published-numbers files (report.h; the format is in docs/REPORTS.md).
//
//   # AWQ paper Table 1: OPT-1.3B, INT3 g128, WikiText-2 test, perplexity
//   run,value,source
//   fp16,14.62,"Lin et al. 2023, AWQ (arXiv 2306.00978), Table 1"
//   minmax-w3-g128,119.00,"Lin et al. 2023, AWQ (arXiv 2306.00978), Table 1"
//
// or with labels instead of run ids (row,column,value,source). Tab-separated when the header
// holds a tab.
#include "report/report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"

enum { F_RUN, F_ROW, F_COL, F_VALUE, F_SOURCE, F_NOTE, F_COUNT };
static const char *const FIELD_NAMES[F_COUNT] = {"run", "row", "column", "value", "source", "note"};

#define MAX_FIELDS 16
#define FIELD_CAP 512
#define PUBLISHED_MAX (4 << 20)   // bytes: a table of numbers, far below this

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

// Splits one line (no newline) into fields: sep ',' with CSV quoting, or '\t' without.
// Returns the number of fields, or -1 with *why set.
static int split(char *line, char sep, char out[MAX_FIELDS][FIELD_CAP], const char **why) {
    int n = 0;
    const char *s = line;
    for (;;) {
        if (n == MAX_FIELDS) return *why = "more than 16 fields", -1;
        size_t o = 0;
        while (sep == ',' && (*s == ' ' || *s == '\t')) s++;
        if (sep == ',' && *s == '"') {
            s++;
            for (;;) {
                if (!*s) return *why = "unterminated quoted field", -1;
                if (*s == '"' && s[1] == '"') { s++; }
                else if (*s == '"') { s++; break; }
                if (o + 1 >= FIELD_CAP) return *why = "field longer than 511 characters", -1;
                out[n][o++] = *s++;
            }
            while (*s == ' ' || *s == '\t') s++;
            if (*s && *s != sep) return *why = "text after a closing quote", -1;
        } else {
            while (*s && *s != sep) {
                if (o + 1 >= FIELD_CAP) return *why = "field longer than 511 characters", -1;
                out[n][o++] = *s++;
            }
        }
        out[n][o] = '\0';
        char *t = trim(out[n]);
        memmove(out[n], t, strlen(t) + 1);
        n++;
        if (!*s) return n;
        s++;   // the separator
    }
}

// The file's text. The path may come from a results file, so it may name any file: only a small
// text file is read, and no message here or below quotes what the file holds (a header line
// proves the format before a field is looked at, and even then only its position is named).
static char *read_text(const char *path, size_t *len, ah_err *e) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > PUBLISHED_MAX) {
        ah_fail(e, "published numbers: %s: %lld bytes, more than a published-numbers file holds "
                   "(at most %d)", path, (long long)st.st_size, PUBLISHED_MAX);
        return NULL;
    }
    char *text = ah_read_file(path, len, e);   // refuses FIFOs and devices without blocking
    if (!text) {
        ah_wrap(e, "published numbers");
        return NULL;
    }
    if (*len > PUBLISHED_MAX || memchr(text, '\0', *len)) {
        ah_fail(e, "published numbers: %s: not a text file of published numbers", path);
        free(text);
        return NULL;
    }
    return text;
}

static int put(char *dst, size_t cap, const char *v, const char *path, int line, const char *what,
               ah_err *e) {
    if (strlen(v) >= cap)
        return ah_fail(e, "%s:%d: %s longer than %zu characters", path, line, what, cap - 1);
    snprintf(dst, cap, "%s", v);
    return 0;
}

int report_published_load(report_published *p, const char *path, ah_err *e) {
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", path);
    size_t len;
    char *text = read_text(path, &len, e);
    if (!text) return -1;
    char f[MAX_FIELDS][FIELD_CAP];
    int where[F_COUNT], header_seen = 0, n_header = 0, line = 0, rc = -1, cap = 0;
    char sep = ',';
    const char *why = NULL;
    for (int i = 0; i < F_COUNT; i++) where[i] = -1;
    for (char *s = text, *nl; s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        line++;
        size_t l = strlen(s);
        if (l && s[l - 1] == '\r') s[l - 1] = '\0';
        char *t = trim(s);
        if (!*t || *t == '#') continue;
        if (!header_seen) {
            sep = strchr(s, '\t') ? '\t' : ',';
            if ((n_header = split(s, sep, f, &why)) < 0) {
                ah_fail(e, "%s:%d: header: %s", path, line, why);
                goto done;
            }
            for (int i = 0; i < n_header; i++) {
                int k = 0;
                while (k < F_COUNT && strcasecmp(f[i], FIELD_NAMES[k])) k++;
                if (k == F_COUNT) {
                    ah_fail(e, "%s:%d: not a published-numbers file: header field %d is not one of "
                               "run, row, column, value, source, note", path, line, i + 1);
                    goto done;
                }
                if (where[k] >= 0) {
                    ah_fail(e, "%s:%d: column '%s' given twice", path, line, FIELD_NAMES[k]);
                    goto done;
                }
                where[k] = i;
            }
            if (where[F_VALUE] < 0 || where[F_SOURCE] < 0 ||
                (where[F_RUN] < 0 && (where[F_ROW] < 0 || where[F_COL] < 0))) {
                ah_fail(e, "%s:%d: the header needs value, source, and run or row and column",
                        path, line);
                goto done;
            }
            header_seen = 1;
            continue;
        }
        int nf = split(s, sep, f, &why);
        if (nf < 0) {
            ah_fail(e, "%s:%d: %s", path, line, why);
            goto done;
        }
        if (nf != n_header) {
            ah_fail(e, "%s:%d: %d fields, the header has %d%s", path, line, nf, n_header,
                    sep == ',' ? " (quote fields that hold commas)" : "");
            goto done;
        }
        if (p->n == cap) {
            cap = cap ? 2 * cap : 16;
            report_pub *g = realloc(p->e, (size_t)cap * sizeof *g);
            if (!g) {
                ah_fail(e, "%s: out of memory", path);
                goto done;
            }
            p->e = g;
        }
        report_pub *r = &p->e[p->n];
        memset(r, 0, sizeof *r);
        r->line = line;
        const char *get[F_COUNT];
        for (int k = 0; k < F_COUNT; k++) get[k] = where[k] >= 0 ? f[where[k]] : "";
        if (put(r->run, sizeof r->run, get[F_RUN], path, line, "run id", e) ||
            put(r->row, sizeof r->row, get[F_ROW], path, line, "row label", e) ||
            put(r->col, sizeof r->col, get[F_COL], path, line, "column label", e) ||
            put(r->source, sizeof r->source, get[F_SOURCE], path, line, "source", e) ||
            put(r->note, sizeof r->note, get[F_NOTE], path, line, "note", e))
            goto done;
        if (!r->run[0] && (!r->row[0] || !r->col[0])) {
            ah_fail(e, "%s:%d: give a run id, or both a row and a column label", path, line);
            goto done;
        }
        if (!r->source[0]) {
            ah_fail(e, "%s:%d: no source (cite the paper and table the number comes from)", path, line);
            goto done;
        }
        char *end;
        errno = 0;
        r->value = strtod(get[F_VALUE], &end);
        if (end == get[F_VALUE] || *end || errno || !isfinite(r->value)) {
            ah_fail(e, "%s:%d: the value field is not a finite number", path, line);
            goto done;
        }
        p->n++;
    }
    if (!header_seen) {
        ah_fail(e, "%s: no header line (run,value,source or row,column,value,source)", path);
        goto done;
    }
    rc = 0;
done:
    free(text);
    if (rc) report_published_free(p);
    return rc;
}

void report_published_free(report_published *p) {
    if (!p) return;
    free(p->e);
    p->e = NULL;
    p->n = 0;
}
