// filter.c — `report --filter KEY=VALUE[,VALUE...]` (report.h): the runs a table is built from.
//
// A value is read as the parameter table reads it (method/params.c: words, aliases, ranges), so
// `alpha=banana` is the same error an INI file gets; a value no run has is an error naming the
// values the runs have (a typo must not give a silently empty or partial table).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/params.h"
#include "report/report.h"

#define FILTER_MAX_VALUES 64

typedef struct {
    int col;                         // /summary column, -2 = the run id
    int n;
    char text[FILTER_MAX_VALUES][STORE_STR_CAP];
    param_value v[FILTER_MAX_VALUES];
    int numeric;                     // compare numbers (else strings)
} filter;

static int is_str_col(int col) { return col < 0 || store_summary_columns[col].type == STORE_COL_STR; }

static int matches_value(const store_summary *s, int r, const filter *f, int k) {
    if (f->col == -2) return !strcmp(s->rows[r].id, f->text[k]);
    if (!f->numeric) return !strcmp(s->rows[r].str[f->col], f->text[k]);
    double x = s->rows[r].num[f->col];
    if (f->v[k].word >= 0) {   // alpha=search: a searched alpha is alpha_mode "search"
        int m = store_column_index("alpha_mode");
        return m >= 0 && isnan(x) && !strcmp(s->rows[r].str[m], f->text[k]);
    }
    return !isnan(x) && fabs(x - f->v[k].num) <= 1e-9 * fmax(1.0, fabs(x));
}

// The FP reference lacks the quantizers' parameters (bits, seed, ...): a filter on one keeps it,
// as the table's FP row fits every column (bits=3 still shows the FP16 row).
static int missing_ref(const store_summary *s, int r, const filter *f) {
    int m = store_column_index("method");
    if (f->col < 0 || m < 0 || strcmp(s->rows[r].str[m], "fp16")) return 0;
    return is_str_col(f->col) ? !s->rows[r].str[f->col][0] : isnan(s->rows[r].num[f->col]);
}

static int matches(const store_summary *s, int r, const filter *f) {
    if (missing_ref(s, r, f)) return 1;
    for (int k = 0; k < f->n; k++)
        if (matches_value(s, r, f, k)) return 1;
    return 0;
}

// The values column col holds among the runs, for messages: "3, 4".
static void values_of(const store_summary *s, int col, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int r = 0; r < s->n && o + 8 < cap; r++) {
        char v[STORE_STR_CAP + 8];
        if (col == -2) snprintf(v, sizeof v, "%s", s->rows[r].id);
        else if (is_str_col(col)) snprintf(v, sizeof v, "%s", s->rows[r].str[col]);
        else if (isnan(s->rows[r].num[col])) continue;
        else snprintf(v, sizeof v, "%g", s->rows[r].num[col]);
        if (!v[0]) continue;
        char probe[STORE_STR_CAP + 12];
        snprintf(probe, sizeof probe, ", %s,", v);
        char have[4096];
        snprintf(have, sizeof have, ", %s,", buf);
        if (strstr(have, probe)) continue;
        int n = snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", v);
        o = n < 0 || (size_t)n >= cap - o ? cap : o + (size_t)n;
    }
}

static int parse_filter(filter *f, const char *spec, const store_summary *s, ah_err *e) {
    memset(f, 0, sizeof *f);
    const char *eq = strchr(spec, '=');
    char key[64];
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof key)
        return ah_fail(e, "--filter '%s': expected KEY=VALUE[,VALUE...] (a /summary column: "
                          "bits=3, method=awq,rtn)", spec);
    snprintf(key, sizeof key, "%.*s", (int)(eq - spec), spec);
    f->col = !strcmp(key, "id") ? -2 : store_column_index(key);
    if (f->col == -1) return ah_fail(e, "--filter '%s': '%s' is not a /summary column", spec, key);
    const param_def *d = param_named(key);
    f->numeric = !is_str_col(f->col);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", eq + 1);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        char *end = t + strlen(t);
        while (end > t && end[-1] == ' ') *--end = '\0';
        if (!*t) continue;
        if (f->n == FILTER_MAX_VALUES) return ah_fail(e, "--filter '%s': more than %d values", spec, FILTER_MAX_VALUES);
        if (strlen(t) > STORE_STR_MAX) return ah_fail(e, "--filter '%s': value longer than %d bytes", spec, STORE_STR_MAX);
        snprintf(f->text[f->n], STORE_STR_CAP, "%s", t);
        char why[256];
        if (d && (param_parse(param_index(d), t, &f->v[f->n], why, sizeof why) ||
                  param_check(param_index(d), &f->v[f->n], why, sizeof why)))
            return ah_fail(e, "--filter %s=%s: %s", key, t, why);
        if (!d && f->numeric) {
            char *stop;
            f->v[f->n].word = -1;
            f->v[f->n].num = strtod(t, &stop);
            if (stop == t || *stop) return ah_fail(e, "--filter %s=%s: expected a number", key, t);
        }
        // A word of a number row stands for its text (alpha=search); an alias for its number.
        int found = 0;
        for (int r = 0; r < s->n && !found; r++) found = matches_value(s, r, f, f->n);
        if (!found) {
            char have[1024];
            values_of(s, f->col, have, sizeof have);
            return ah_fail(e, "--filter %s=%s: no run has it (%s: %s)", key, t, key,
                           have[0] ? have : "none has a value");
        }
        f->n++;
    }
    if (!f->n) return ah_fail(e, "--filter '%s': no value", spec);
    return 0;
}

int report_filter(store_summary *view, const store_summary *s, const char *const *specs, int n,
                  ah_err *e) {
    *view = *s;
    view->rows = NULL;
    view->n = 0;
    filter *fs = calloc(n ? (size_t)n : 1, sizeof *fs);
    store_row *rows = malloc((s->n ? (size_t)s->n : 1) * sizeof *rows);
    if (!fs || !rows) {
        free(fs);
        free(rows);
        return ah_fail(e, "out of memory");
    }
    for (int i = 0; i < n; i++)
        if (parse_filter(&fs[i], specs[i], s, e)) {
            free(fs);
            free(rows);
            return -1;
        }
    int k = 0;
    for (int r = 0; r < s->n; r++) {
        int ok = 1;
        for (int i = 0; i < n && ok; i++) ok = matches(s, r, &fs[i]);
        if (ok) rows[k++] = s->rows[r];
    }
    free(fs);
    if (!k) {
        free(rows);
        return ah_fail(e, "--filter: no run matches all of them");
    }
    view->rows = rows;
    view->n = k;
    return 0;
}
