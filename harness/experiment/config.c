// config.c — experiment INI files through libinih: sections, includes, ${VAR} expansion,
// sweep axis lists and ranges, and errors that name the file and line.
//
// libinih does not pass line numbers to the handler in Debian's build, so lines are counted
// by our reader function: inih reads one line, then calls the handler for it, so the count
// at handler time is the line of the key.
#include "experiment/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/names.h"
#include "eval/tasks.h"
#include "experiment/data_axes.h"
#include "experiment/ini_include.h"
#include "export/formats.h"
#include "method/method.h"

#define MAX_INCLUDE_DEPTH 8

static const char *const PLOT_KEYS[] = {"kind", "x", "y", "series", "filter", "title", "logx",
                                        "logy", "xlabel", "ylabel", "run", "layers", NULL};

typedef struct parse_ctx {
    exp_config *c;
    const char *file;       // current file
    int line;               // lines read from the current file
    FILE *fp;               // current stream (file mode), else NULL
    const char *str;        // current text (string mode)
    size_t str_pos;
    int depth;
    int long_line;          // a line did not fit the reader's buffer
    // first error
    int err_line;
    char err_file[EXP_PATH_MAX];
    char err_msg[768];
    int failed;
    char last_section[96];
    char cur_section[96];   // section of the key being handled
    char last_key[48];
    int last_line;
    int last_continues;     // previous value ended with ',' (the list goes on)
    ah_buf *text;           // every file read, includes expanded in place
    size_t line_start;      // offset in text of the line being parsed
    ini_reads *reads;       // files read and keys set, over all files (outlives includes)
    int file_id;            // the current file in reads
    int stored;             // text stored in a results file: keys outside [sweep] may repeat
} parse_ctx;

static int fail_at(parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_at(parse_ctx *p, const char *fmt, ...) {
    if (p->failed) return 0;
    p->failed = 1;
    p->err_line = p->line;
    snprintf(p->err_file, sizeof p->err_file, "%s", p->file);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err_msg, sizeof p->err_msg, fmt, ap);
    va_end(ap);
    return 0;   // inih: handler error
}

// ---- readers: count lines, refuse lines longer than inih's buffer -------------------------

static char *count_line(parse_ctx *p, char *got, int num) {
    if (!got) return NULL;
    p->line++;
    size_t len = strlen(got);
    if (p->text->n + len > INI_MAX_TEXT) {   // a file that grew after it was measured
        fail_at(p, "the experiment text is over the %zu MiB limit (includes expanded)",
                INI_MAX_TEXT >> 20);
        return NULL;   // stop reading: inih ends the file here
    }
    if (len + 1 >= (size_t)num && got[len - 1] != '\n' && !p->long_line) {
        p->long_line = 1;
        fail_at(p, "line longer than %d characters (split a list over several lines: end a "
                   "line with ',' and indent the next)", num - 2);
    }
    p->line_start = p->text->n;
    ah_buf_put(p->text, got, len);
    // A file's last line without its newline: the stored text gets one, so the next file's
    // "; --- FILE" marker (or the includer's next line) starts a line of its own.
    if (len > 0 && got[len - 1] != '\n' && len + 1 < (size_t)num) ah_buf_put(p->text, "\n", 1);
    return got;
}

static char *file_reader(char *str, int num, void *stream) {
    parse_ctx *p = stream;
    return count_line(p, fgets(str, num, p->fp), num);
}

static char *string_reader(char *str, int num, void *stream) {
    parse_ctx *p = stream;
    const char *s = p->str + p->str_pos;
    if (!*s || num < 2) return NULL;
    size_t n = 0;
    while (s[n] && s[n] != '\n' && n < (size_t)num - 1) n++;   // as fgets: at most num-1
    if (s[n] == '\n' && n < (size_t)num - 1) n++;
    memcpy(str, s, n);
    str[n] = '\0';
    p->str_pos += n;
    return count_line(p, str, num);
}

// ---- values ---------------------------------------------------------------------------------

// ${VAR} and ${VAR:-default} from the environment into out.
static int expand_env(parse_ctx *p, const char *v, char *out, size_t cap) {
    size_t o = 0;
    for (const char *s = v; *s;) {
        if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s, '}');
            if (!end) return fail_at(p, "unterminated ${ in '%s'", v), -1;
            char name[128], def[512] = "";
            size_t len = (size_t)(end - s - 2);
            if (len >= sizeof name) return fail_at(p, "variable name too long in '%s'", v), -1;
            memcpy(name, s + 2, len);
            name[len] = '\0';
            int has_def = 0;
            char *colon = strstr(name, ":-");
            if (colon) {
                snprintf(def, sizeof def, "%s", colon + 2);
                *colon = '\0';
                has_def = 1;
            }
            const char *val = getenv(name);
            if (!val || !*val) {
                if (!has_def)
                    return fail_at(p, "environment variable %s is not set (write ${%s:-DEFAULT} "
                                      "for a default)", name, name), -1;
                val = def;
            }
            size_t vl = strlen(val);
            if (o + vl >= cap) return fail_at(p, "value too long after expanding ${%s}", name), -1;
            memcpy(out + o, val, vl);
            o += vl;
            s = end + 1;
        } else {
            if (o + 1 >= cap) return fail_at(p, "value too long"), -1;
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return 0;
}

static int set_string(parse_ctx *p, char *dst, size_t cap, const char *v, const char *key) {
    if (!*v) return fail_at(p, "%s: empty value", key), -1;
    if (strlen(v) >= cap) return fail_at(p, "%s: value longer than %zu characters", key, cap - 1), -1;
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int parse_int(parse_ctx *p, const char *key, const char *v, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno) return fail_at(p, "%s: expected an integer, got '%s'", key, v), -1;
    if (x < lo || x > hi) return fail_at(p, "%s: %ld is outside %ld..%ld", key, x, lo, hi), -1;
    *out = (int)x;
    return 0;
}

static int parse_bool(parse_ctx *p, const char *key, const char *v, int *out) {
    if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1")) *out = 1;
    else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0")) *out = 0;
    else return fail_at(p, "%s: expected yes or no, got '%s'", key, v), -1;
    return 0;
}

static int word_index(const char *const *words, const char *w) { return ah_word_index(words, -1, w); }

static void join_words(const char *const *words, char *out, size_t cap) {
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; words[i] && o + 1 < cap; i++) {
        int n = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", words[i]);
        o = n < 0 || (size_t)n >= cap - o ? cap - 1 : o + (size_t)n;
    }
}

// Rounds to 9 significant digits so 0:1:0.1 gives 0.3, not 0.30000000000000004.
static double tidy(double x) {
    char b[32];
    snprintf(b, sizeof b, "%.9g", x);
    return strtod(b, NULL);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static int add_value(parse_ctx *p, exp_axis_values *ax, const char *key, param_value v) {
    if (ax->n >= EXP_MAX_VALUES) return fail_at(p, "%s: more than %d values", key, EXP_MAX_VALUES), -1;
    ax->v[ax->n++] = v;
    return 0;
}

static int add_num(parse_ctx *p, exp_axis_values *ax, const char *key, double x) {
    param_value v = {x, -1};
    return add_value(p, ax, key, v);
}

static int parse_number(parse_ctx *p, const char *key, const char *s, double *x) {
    char *end;
    errno = 0;
    *x = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(*x))
        return fail_at(p, "%s: expected a number or START:STOP:STEP, got '%s'", key, s), -1;
    return 0;
}

// One list item of a numeric axis: a number or START:STOP:STEP (STOP included).
static int numeric_item(parse_ctx *p, exp_axis_values *ax, const char *key, char *item) {
    char *c1 = strchr(item, ':');
    if (!c1) {
        double x;
        if (parse_number(p, key, item, &x)) return -1;
        return add_num(p, ax, key, x);
    }
    char *c2 = strchr(c1 + 1, ':');
    if (!c2) return fail_at(p, "%s: range '%s' needs START:STOP:STEP", key, item), -1;
    *c1 = *c2 = '\0';
    double a, b, step;
    if (parse_number(p, key, trim(item), &a) || parse_number(p, key, trim(c1 + 1), &b) ||
        parse_number(p, key, trim(c2 + 1), &step))
        return -1;
    if (step <= 0 || b < a)
        return fail_at(p, "%s: range %g:%g:%g must have STOP >= START and STEP > 0", key, a, b, step), -1;
    double count = floor((b - a) / step + 1e-9) + 1;
    if (count > EXP_MAX_VALUES)
        return fail_at(p, "%s: range %g:%g:%g has %.0f values (at most %d)", key, a, b, step, count,
                       EXP_MAX_VALUES), -1;
    for (int i = 0; i < (int)count; i++)
        if (add_num(p, ax, key, tidy(a + i * step))) return -1;
    return 0;
}

// One axis line of [sweep] or [sweep.NAME] (section), into that section's axes.
static int sweep_value(parse_ctx *p, exp_axis_values *axes, const char *section, param_id a,
                       const char *key, const char *value) {
    exp_axis_values *ax = &axes[a];
    int continuing = p->last_continues && !strcmp(p->last_key, key) && !strcmp(p->last_section, section);
    if (ax->given && !continuing)
        return fail_at(p, "%s given twice in [%s] (first at line %d); write one list", key, section,
                       ax->line), -1;
    if (!ax->given) {
        ax->given = 1;
        ax->n = 0;
        snprintf(ax->file, sizeof ax->file, "%s", p->file);
        ax->line = p->line;
    }
    char buf[1024];
    if (strlen(value) >= sizeof buf) return fail_at(p, "%s: list too long", key), -1;
    snprintf(buf, sizeof buf, "%s", value);
    const param_def *d = param_of(a);
    char *save = NULL;
    int items = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *item = trim(tok);
        if (!*item) continue;
        items++;
        // A word of the row (or its alias, group_size = row) is one value; a number may also
        // be a range START:STOP:STEP. Ranges are checked when the plan is built.
        param_value v;
        char why[320];
        if (d->type == PT_WORD || !strchr(item, ':')) {
            if (param_parse(a, item, &v, why, sizeof why)) {
                if (d->type == PT_WORD) return fail_at(p, "%s: %s", key, why), -1;
                double x;   // the number's own message (a number or START:STOP:STEP)
                if (!parse_number(p, key, item, &x)) fail_at(p, "%s: %s", key, why);
                return -1;
            }
            if (add_value(p, ax, key, v)) return -1;
        } else if (numeric_item(p, ax, key, item)) {
            return -1;
        }
    }
    if (items == 0 && !continuing) return fail_at(p, "%s: empty list", key), -1;
    return 0;
}

// ---- sections -------------------------------------------------------------------------------

static int load_file(parse_ctx *p, const char *path, char *why, size_t cap);

static int handle_include(parse_ctx *p, const char *value) {
    char full[EXP_PATH_MAX], dir[EXP_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", p->file);
    if (value[0] == '/' || strchr(p->file, '/') == NULL)
        snprintf(full, sizeof full, "%s", value);
    else
        snprintf(full, sizeof full, "%s/%s", dirname(dir), value);
    if (p->depth >= MAX_INCLUDE_DEPTH)
        return fail_at(p, "include: more than %d levels (an include cycle?) at '%s'",
                       MAX_INCLUDE_DEPTH, value);
    if (p->reads->includes >= INI_MAX_INCLUDES)   // depth alone allows 16^7 reads of 7 files
        return fail_at(p, "include: more than %d includes in one experiment (all levels "
                          "together) at '%s'", INI_MAX_INCLUDES, value);
    p->reads->includes++;
    // The stored text replaces the include line by the file's lines, so it parses alone.
    p->text->n = p->line_start;
    char note[EXP_PATH_MAX + 32];
    int nl = snprintf(note, sizeof note, "; include = %s\n", value);
    ah_buf_put(p->text, note, (size_t)nl);
    // The included file is parsed with its own line count and name, then we resume here.
    parse_ctx saved = *p;
    p->depth++;
    char why[256];
    int rc = load_file(p, full, why, sizeof why);
    int failed = p->failed;
    char err_file[EXP_PATH_MAX], err_msg[768];
    int err_line = p->err_line;
    memcpy(err_file, p->err_file, sizeof err_file);
    memcpy(err_msg, p->err_msg, sizeof err_msg);
    ah_buf *text = p->text;
    *p = saved;
    p->text = text;
    // Back in the including file's section ("[]" when the include came before any): the
    // header also ends the included file's last key, as the end of its stream did.
    nl = snprintf(note, sizeof note, "; --- back in %s\n[%s]\n", p->file, p->cur_section);
    ah_buf_put(p->text, note, (size_t)nl);
    p->last_key[0] = '\0';
    p->last_continues = 0;
    if (failed) {
        p->failed = 1;
        p->err_line = err_line;
        memcpy(p->err_file, err_file, sizeof err_file);
        memcpy(p->err_msg, err_msg, sizeof err_msg);
        return 0;
    }
    if (rc < 0) return fail_at(p, "include: cannot read '%s': %s", full, why);
    return 1;
}

static int experiment_key(parse_ctx *p, const char *k, const char *v) {
    exp_config *c = p->c;
    if (!strcmp(k, "name")) {
        for (const char *s = v; *s; s++)
            if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
                return fail_at(p, "name: '%s' may hold only letters, digits, '-', '_' and '.'", v);
        return set_string(p, c->name, sizeof c->name, v, k) ? 0 : 1;
    }
    if (!strcmp(k, "description")) return set_string(p, c->description, sizeof c->description, v, k) ? 0 : 1;
    if (!strcmp(k, "output")) return set_string(p, c->output, sizeof c->output, v, k) ? 0 : 1;
    if (!strcmp(k, "cache")) return set_string(p, c->cache_dir, sizeof c->cache_dir, v, k) ? 0 : 1;
    if (!strcmp(k, "seed")) {
        int s;
        if (parse_int(p, k, v, 0, 2147483647, &s)) return 0;
        c->seed = (uint64_t)s;
        return 1;
    }
    if (!strcmp(k, "threads")) return parse_int(p, k, v, 0, 1024, &c->threads) ? 0 : 1;
    if (!strcmp(k, "record_layers")) return parse_bool(p, k, v, &c->record_layers) ? 0 : 1;
    if (!strcmp(k, "published")) return set_string(p, c->published, sizeof c->published, v, k) ? 0 : 1;
    return fail_at(p, "unknown key '%s' in [experiment] (name, description, output, cache, seed, "
                      "threads, record_layers, published, include)", k);
}

static int model_key(parse_ctx *p, const char *k, const char *v) {
    exp_config *c = p->c;
    if (!strcmp(k, "path")) return set_string(p, c->model_path, sizeof c->model_path, v, k) ? 0 : 1;
    if (!strcmp(k, "tokenizer")) return set_string(p, c->tokenizer, sizeof c->tokenizer, v, k) ? 0 : 1;
    if (!strcmp(k, "name")) return set_string(p, c->model_name, sizeof c->model_name, v, k) ? 0 : 1;
    if (!strcmp(k, "hf_id")) return set_string(p, c->hf_id, sizeof c->hf_id, v, k) ? 0 : 1;
    return fail_at(p, "unknown key '%s' in [model] (path, tokenizer, name, hf_id, include)", k);
}

// [model.NAME]: created when first seen, with NAME as its name.
static int named_model_key(parse_ctx *p, const char *section, const char *k, const char *v) {
    exp_config *c = p->c;
    const char *name = section + 6;
    if (!*name || strlen(name) >= sizeof c->models[0].name)
        return fail_at(p, "[%s]: a model needs a name of 1-127 characters ([model.NAME])", section);
    exp_model *m = NULL;
    for (int i = 0; i < c->n_models && !m; i++)
        if (!strcmp(c->models[i].key, name)) m = &c->models[i];
    if (!m) {
        if (c->n_models >= EXP_MAX_MODELS) return fail_at(p, "more than %d [model.NAME] sections", EXP_MAX_MODELS);
        if (!strcmp(name, "main")) return fail_at(p, "[model.main]: main names [model] (use another name)");
        exp_model *grown = realloc(c->models, (size_t)(c->n_models + 1) * sizeof *grown);
        if (!grown) return fail_at(p, "out of memory");
        c->models = grown;
        m = &c->models[c->n_models++];
        memset(m, 0, sizeof *m);
        snprintf(m->key, sizeof m->key, "%s", name);
        snprintf(m->name, sizeof m->name, "%s", name);
    }
    if (!strcmp(k, "path")) return set_string(p, m->path, sizeof m->path, v, k) ? 0 : 1;
    if (!strcmp(k, "tokenizer")) return set_string(p, m->tokenizer, sizeof m->tokenizer, v, k) ? 0 : 1;
    if (!strcmp(k, "name")) return set_string(p, m->name, sizeof m->name, v, k) ? 0 : 1;
    if (!strcmp(k, "hf_id")) return set_string(p, m->hf_id, sizeof m->hf_id, v, k) ? 0 : 1;
    return fail_at(p, "unknown key '%s' in [%s] (path, tokenizer, name, hf_id)", k, section);
}

static int calibration_key(parse_ctx *p, const char *k, const char *v) {
    exp_config *c = p->c;
    if (!strcmp(k, "data")) return set_string(p, c->calib, sizeof c->calib, v, k) ? 0 : 1;
    if (!strcmp(k, "samples")) return parse_int(p, k, v, 1, 1 << 20, &c->calib_samples) ? 0 : 1;
    if (!strcmp(k, "seqlen")) return parse_int(p, k, v, 2, 1 << 20, &c->calib_seqlen) ? 0 : 1;
    if (!strcmp(k, "awq_samples")) return parse_int(p, k, v, 1, 1 << 20, &c->awq_samples) ? 0 : 1;
    if (!strcmp(k, "pick")) {
        if (strcmp(v, "first") && strcmp(v, "random"))
            return fail_at(p, "pick: expected random or first, got '%s'", v);
        c->calib_first = !strcmp(v, "first");
        return 1;
    }
    return fail_at(p, "unknown key '%s' in [calibration] (data, samples, seqlen, pick, "
                      "awq_samples, include)", k);
}

static int evaluation_key(parse_ctx *p, const char *k, const char *v) {
    exp_config *c = p->c;
    if (!strcmp(k, "data")) return set_string(p, c->eval_data, sizeof c->eval_data, v, k) ? 0 : 1;
    if (!strcmp(k, "seqlen")) return parse_int(p, k, v, 2, 1 << 20, &c->seqlen) ? 0 : 1;
    if (!strcmp(k, "max_windows")) return parse_int(p, k, v, 0, 1 << 30, &c->max_windows) ? 0 : 1;
    if (!strcmp(k, "wikitext_dir")) return set_string(p, c->wikitext_dir, sizeof c->wikitext_dir, v, k) ? 0 : 1;
    if (!strcmp(k, "kld")) return parse_bool(p, k, v, &c->kld) ? 0 : 1;
    if (!strcmp(k, "tasks")) {   // NAME:FILE,...: names checked here, files when the sweep starts
        if (set_string(p, c->tasks, sizeof c->tasks, v, k)) return 0;
        char spec[4 * EXP_PATH_MAX];
        for (const char *a = v; *a;) {
            const char *b = strchr(a, ',');
            size_t n = b ? (size_t)(b - a) : strlen(a);
            snprintf(spec, sizeof spec, "%.*s", (int)n, a);
            ah_err te = {{0}};
            if (task_check_spec(spec, 0, &te)) return fail_at(p, "tasks: %s", te.msg);
            a += n + (b ? 1 : 0);
        }
        return 1;
    }
    if (!strcmp(k, "task_items")) return parse_int(p, k, v, 0, 1 << 30, &c->task_items) ? 0 : 1;
    if (!strcmp(k, "efficiency")) return parse_bool(p, k, v, &c->efficiency) ? 0 : 1;
    if (!strcmp(k, "efficiency_prompt")) return parse_int(p, k, v, 1, 1 << 20, &c->eff_prompt) ? 0 : 1;
    if (!strcmp(k, "efficiency_decode")) return parse_int(p, k, v, 2, 1 << 20, &c->eff_decode) ? 0 : 1;
    if (!strcmp(k, "efficiency_reps")) return parse_int(p, k, v, 1, 1000, &c->eff_reps) ? 0 : 1;
    if (!strcmp(k, "protocol")) {
        if (ppl_protocol_parse(v, &c->protocol) || c->protocol == PPL_LMEVAL)
            return fail_at(p, "protocol: expected gptq or llamacpp, got '%s' (lm-eval's word "
                              "perplexity in a sweep: tasks = wikitext:FILE; docs/TASKS.md)", v);
        return 1;
    }
    return fail_at(p, "unknown key '%s' in [evaluation] (data, seqlen, max_windows, protocol, "
                      "wikitext_dir, kld, tasks, task_items, efficiency, efficiency_prompt, "
                      "efficiency_decode, efficiency_reps, include)", k);
}

// [export]: formats = NAME, NAME (rows of export/formats.c), dir = PATH.
static int export_key(parse_ctx *p, const char *k, const char *v) {
    exp_config *c = p->c;
    if (!strcmp(k, "dir")) return set_string(p, c->export_dir, sizeof c->export_dir, v, k) ? 0 : 1;
    if (strcmp(k, "formats"))
        return fail_at(p, "unknown key '%s' in [export] (formats, dir, include)", k);
    for (const char *a = v;;) {
        while (*a == ' ' || *a == '\t') a++;
        const char *b = strchr(a, ',');
        size_t n = b ? (size_t)(b - a) : strlen(a);
        while (n && (a[n - 1] == ' ' || a[n - 1] == '\t')) n--;
        char name[sizeof c->export_formats[0]];
        if (n == 0 || n >= sizeof name)
            return fail_at(p, "formats: expected a list of %s, got '%s'", qexport_format_list(), v);
        snprintf(name, sizeof name, "%.*s", (int)n, a);
        if (!qexport_format_find(name))
            return fail_at(p, "formats: unknown format '%s' (expected %s)", name, qexport_format_list());
        for (int i = 0; i < c->n_exports; i++)
            if (!strcmp(c->export_formats[i], name))
                return fail_at(p, "formats: %s listed twice", name);
        if (c->n_exports == EXP_MAX_EXPORTS)
            return fail_at(p, "formats: more than %d formats", EXP_MAX_EXPORTS);
        snprintf(c->export_formats[c->n_exports++], sizeof c->export_formats[0], "%s", name);
        if (!b) return 1;
        a = b + 1;
    }
}

static int plot_key(parse_ctx *p, const char *section, const char *k, const char *v) {
    exp_config *c = p->c;
    const char *name = section + 5;
    if (!*name || strlen(name) >= sizeof c->plots[0].name)
        return fail_at(p, "[%s]: a plot needs a name of 1-63 characters ([plot.NAME])", section);
    if (word_index(PLOT_KEYS, k) < 0) {
        char allowed[256];
        join_words(PLOT_KEYS, allowed, sizeof allowed);
        return fail_at(p, "unknown key '%s' in [%s] (%s)", k, section, allowed);
    }
    exp_plot *pl = NULL;
    for (int i = 0; i < c->n_plots; i++)
        if (!strcmp(c->plots[i].name, name)) pl = &c->plots[i];
    if (!pl) {
        if (c->n_plots >= EXP_MAX_PLOTS) return fail_at(p, "more than %d plots", EXP_MAX_PLOTS);
        pl = &c->plots[c->n_plots++];
        memset(pl, 0, sizeof *pl);
        snprintf(pl->name, sizeof pl->name, "%s", name);
    }
    for (int i = 0; i < pl->n; i++)
        if (!strcmp(pl->key[i], k)) return fail_at(p, "%s given twice in [%s]", k, section);
    if (pl->n >= EXP_MAX_PLOT_KEYS || strlen(v) >= sizeof pl->value[0])
        return fail_at(p, "[%s]: too many keys or value too long", section);
    snprintf(pl->key[pl->n], sizeof pl->key[0], "%s", k);
    snprintf(pl->value[pl->n], sizeof pl->value[0], "%s", v);
    pl->n++;
    return 1;
}

// The axes a [sweep] or [sweep.NAME] section writes into (a named sweep is created when first
// seen); NULL after reporting an error.
static exp_axis_values *sweep_axes(parse_ctx *p, const char *section) {
    exp_config *c = p->c;
    if (!strcmp(section, "sweep")) return c->axes;
    const char *name = section + 6;
    if (!*name || strlen(name) >= sizeof c->sweeps[0].name)
        return fail_at(p, "[%s]: a named sweep needs a name of 1-63 characters ([sweep.NAME])", section), NULL;
    for (int i = 0; i < c->n_sweeps; i++)
        if (!strcmp(c->sweeps[i].name, name)) return c->sweeps[i].axes;
    if (c->n_sweeps >= EXP_MAX_SWEEPS)
        return fail_at(p, "[%s]: more than %d named sweeps", section, EXP_MAX_SWEEPS), NULL;
    exp_sweep *grown = realloc(c->sweeps, (size_t)(c->n_sweeps + 1) * sizeof *grown);
    if (!grown) return fail_at(p, "[%s]: out of memory", section), NULL;
    c->sweeps = grown;
    exp_sweep *sw = &c->sweeps[c->n_sweeps++];
    memset(sw, 0, sizeof *sw);
    snprintf(sw->name, sizeof sw->name, "%s", name);
    return sw->axes;
}

// An input axis of [sweep] (a row of EXP_INPUT_AXES, data_axes.h): a comma list of text values.
static int input_key(parse_ctx *p, const char *section, exp_input_axis a, const char *key,
                     const char *value) {
    exp_input_values *in = &p->c->inputs[a];
    if (strcmp(section, "sweep")) {
        char keys[256];
        exp_input_keys_list(NULL, keys, sizeof keys);
        return fail_at(p, "%s: the inputs (%s) are crossed in [sweep] only, not in [%s]", key,
                       keys, section);
    }
    int continuing = p->last_continues && !strcmp(p->last_key, key) && !strcmp(p->last_section, section);
    if (in->n && !continuing)
        return fail_at(p, "%s given twice in [%s] (first at line %d); write one list", key,
                       section, in->line);
    if (!in->n) {
        snprintf(in->file, sizeof in->file, "%s", p->file);
        in->line = p->line;
    }
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", value);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *item = trim(tok);
        if (!*item) continue;
        if (strlen(item) >= EXP_PATH_MAX) return fail_at(p, "%s: value longer than %d characters", key, EXP_PATH_MAX - 1);
        if (a == EXP_IN_SEQLEN) {
            int x;
            if (parse_int(p, key, item, 2, 1 << 20, &x)) return 0;
        }
        if (a == EXP_IN_PROTOCOL) {   // the [evaluation] protocol's values and message
            ppl_protocol pr;
            if (ppl_protocol_parse(item, &pr) || pr == PPL_LMEVAL)
                return fail_at(p, "protocol: expected gptq or llamacpp, got '%s' (lm-eval's word "
                                  "perplexity in a sweep: tasks = wikitext:FILE; docs/TASKS.md)", item);
        }
        for (int i = 0; i < in->n; i++)
            if (!strcmp(in->v[i], item)) return fail_at(p, "%s: '%s' listed twice", key, item);
        if (in->n >= EXP_MAX_VALUES) return fail_at(p, "%s: more than %d values", key, EXP_MAX_VALUES);
        char **grown = realloc(in->v, (size_t)(in->n + 1) * sizeof *grown);
        if (!grown) return fail_at(p, "out of memory");
        in->v = grown;
        if (!(in->v[in->n] = strdup(item))) return fail_at(p, "out of memory");
        in->n++;
    }
    if (!in->n) return fail_at(p, "%s: empty list", key);
    return 1;
}

// key = value in [sweep] / [sweep.NAME]: nonzero on success, 0 after an error (inih's handler
// convention).
static int sweep_key(parse_ctx *p, const char *section, const char *name, const char *value) {
    for (int k = 0; k < EXP_IN_COUNT; k++)
        if (!strcmp(name, EXP_INPUT_AXES[k].key)) return input_key(p, section, (exp_input_axis)k, name, value);
    int a = 0;
    while (a < PARAM_AXIS_COUNT && strcmp(param_name((param_id)a), name)) a++;
    if (a == PARAM_AXIS_COUNT) {
        char allowed[256];
        size_t o = 0;
        allowed[0] = '\0';
        for (int i = 0; i < PARAM_AXIS_COUNT && o < sizeof allowed; i++)
            o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s%s", i ? ", " : "",
                                  param_name((param_id)i));
        char inputs[128];
        exp_input_keys_list(NULL, inputs, sizeof inputs);
        if (o < sizeof allowed) snprintf(allowed + o, sizeof allowed - o, ", %s", inputs);
        return fail_at(p, "unknown key '%s' in [%s] (%s)", name, section, allowed);
    }
    exp_axis_values *axes = sweep_axes(p, section);
    if (!axes) return 0;
    return sweep_value(p, axes, section, (param_id)a, name, value) ? 0 : 1;
}

// Names that become parts of file names (plot files, results) must be plain (core/names.h),
// or `plot` would write outside its output directory. Empty names are the sections' errors.
static int check_names(parse_ctx *p, const char *section, const char *key, const char *value) {
    const char *dot = strchr(section, '.');
    int named = !strncmp(section, "plot.", 5) || !strncmp(section, "sweep.", 6) ||
                !strncmp(section, "model.", 6);
    if (named && dot[1] && !ah_plain_name(dot + 1))
        return fail_at(p, "[%s]: the name '%s' may hold only letters, digits, '-', '_' and '.', "
                          "and may not start with '.'", section, dot + 1), -1;
    if (!strcmp(section, "experiment") && !strcmp(key, "name") && *value && !ah_plain_name(value))
        return fail_at(p, "name: '%s' may hold only letters, digits, '-', '_' and '.', and may "
                          "not start with '.'", value), -1;
    return 0;
}

// A key is set once per section, over all files: a [section] met again (also after an
// include) adds keys, it never redefines one. An indented line continues the key before it
// (inih's multi-line values); only [sweep] lists continue, their handler joins the lines.
static int check_repeat(parse_ctx *p, const char *section, const char *key) {
    if (!*section || !strcmp(key, "include")) return 0;
    const char *raw = p->text->p ? p->text->p + p->line_start : "";
    if (*raw == ' ' || *raw == '\t') {
        if (!strcmp(section, "sweep") || !strncmp(section, "sweep.", 6)) return 0;
        return fail_at(p, "%s in [%s] continues on an indented line: only [sweep] lists go on over "
                          "lines (un-indent the line if it is a key of its own)", key, section), -1;
    }
    // Text stored by an older harness, where an includer's key overrode the included file's,
    // still reads as it ran: the last value wins.
    if (p->stored && strcmp(section, "sweep") && strncmp(section, "sweep.", 6)) return 0;
    const ini_key_at *first;
    int rc = ini_reads_key(p->reads, section, key, p->file_id, p->line, &first);
    if (rc < 0) return fail_at(p, "out of memory"), -1;
    if (rc == 1)
        return fail_at(p, "%s given twice in [%s] (first at %s:%d)", key, section,
                       ini_reads_name(p->reads, first->file), first->line), -1;
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *raw) {
    parse_ctx *p = user;
    if (p->failed) return 1;   // report only the first error
    char value[2048];
    snprintf(p->cur_section, sizeof p->cur_section, "%s", section);
    if (expand_env(p, raw, value, sizeof value)) return 0;
    if (check_names(p, section, name, value) || check_repeat(p, section, name)) return 0;
    int rc;
    if (!strcmp(name, "include")) rc = handle_include(p, value);
    else if (!*section) rc = fail_at(p, "'%s' before any [section]", name);
    else if (!strcmp(section, "experiment")) rc = experiment_key(p, name, value);
    else if (!strcmp(section, "model")) rc = model_key(p, name, value);
    else if (!strncmp(section, "model.", 6)) rc = named_model_key(p, section, name, value);
    else if (!strcmp(section, "calibration")) rc = calibration_key(p, name, value);
    else if (!strcmp(section, "evaluation")) rc = evaluation_key(p, name, value);
    else if (!strcmp(section, "sweep") || !strncmp(section, "sweep.", 6)) rc = sweep_key(p, section, name, value);
    else if (!strncmp(section, "plot.", 5)) rc = plot_key(p, section, name, value);
    else if (!strcmp(section, "export")) rc = export_key(p, name, value);
    else rc = fail_at(p, "unknown section [%s] (experiment, model, model.NAME, calibration, "
                         "evaluation, sweep, sweep.NAME, plot.NAME, export)", section);
    snprintf(p->last_section, sizeof p->last_section, "%s", section);
    snprintf(p->last_key, sizeof p->last_key, "%s", name);
    size_t n = strlen(value);
    p->last_continues = n > 0 && value[n - 1] == ',';
    return rc;
}

static int finish_parse(parse_ctx *p, int rc, ah_err *e) {
    if (p->failed) return ah_fail(e, "%s:%d: %s", p->err_file, p->err_line, p->err_msg);
    if (rc > 0)
        return ah_fail(e, "%s:%d: not an INI line (expected [section], key = value, or a ; comment)",
                       p->file, rc);
    return 0;
}

// Parses one file in place of the current stream (includes recurse through here). -1 with
// the reason in why when the file is not read: not a regular file, or over the text cap.
static int load_file(parse_ctx *p, const char *path, char *why, size_t cap) {
    long long size;
    FILE *f = ini_open(path, &size, why, cap);
    if (!f) return -1;
    if (size > (long long)INI_MAX_TEXT - (long long)p->text->n) {
        snprintf(why, cap, "%lld bytes would bring the experiment text over the %zu MiB limit "
                           "(includes expanded)", size, INI_MAX_TEXT >> 20);
        fclose(f);
        return -1;
    }
    if ((p->file_id = ini_reads_file(p->reads, path)) < 0) {
        snprintf(why, cap, "out of memory");
        fclose(f);
        return -1;
    }
    p->file = path;
    p->fp = f;
    p->line = 0;
    p->long_line = 0;
    // A NUL byte would silently cut its line short (fgets/strlen): refuse the file instead.
    int ch, line = 1;
    while ((ch = getc(f)) != EOF && ch != 0) line += ch == '\n';
    if (ch == 0) {
        p->line = line;
        fail_at(p, "NUL byte in the file (not a text INI file)");
        fclose(f);
        return 0;
    }
    rewind(f);
    // An included file is a fresh inih stream: no section, and no key before it that an
    // indented first line could continue. "[]" (section "") puts the stored text, one
    // stream, in that same state, so it parses again as the files did.
    char marker[EXP_PATH_MAX + 16];
    int ml = snprintf(marker, sizeof marker, p->depth ? "; --- %s\n[]\n" : "; --- %s\n", path);
    ah_buf_put(p->text, marker, (size_t)ml);
    int rc = ini_parse_stream(file_reader, p, handler, p);
    fclose(f);
    if (!p->failed && rc > 0) {
        p->failed = 1;
        p->err_line = rc;
        snprintf(p->err_file, sizeof p->err_file, "%s", path);
        snprintf(p->err_msg, sizeof p->err_msg,
                 "not an INI line (expected [section], key = value, or a ; comment)");
    }
    return 0;
}

static void defaults(exp_config *c) {
    memset(c, 0, sizeof *c);
    c->calib_samples = 128;
    c->record_layers = 1;
    c->protocol = PPL_GPTQ;
    c->kld = 1;
    c->eff_prompt = 32;   // small: a sweep's runs each pay a few generations
    c->eff_decode = 16;
    c->eff_reps = 3;
}

static int finish_config(exp_config *c, parse_ctx *p, ah_err *e) {
    c->ini_text = p->text->p ? p->text->p : strdup("");
    p->text->p = NULL;
    const char *src = c->source;
    if (!c->name[0]) {   // default name: the file name without .ini
        const char *base = strrchr(src, '/');
        snprintf(c->name, sizeof c->name, "%.127s", base ? base + 1 : src);
        char *dot = strrchr(c->name, '.');
        if (dot) *dot = '\0';
        if (!ah_plain_name(c->name))   // it names the results and plot files
            return ah_fail(e, "%s: the experiment name '%s' (the file name without .ini) is not "
                              "plain (letters, digits, '-', '_' and '.', not starting with '.'): "
                              "set [experiment] name", src, c->name);
    }
    // [sweep] model names [model.NAME] sections (or main: [model]), each with a path.
    const exp_input_values *mi = &c->inputs[EXP_IN_MODEL];
    for (int i = 0; i < mi->n; i++) {
        int found = !strcmp(mi->v[i], "main");
        for (int k = 0; k < c->n_models && !found; k++)
            if (!strcmp(c->models[k].key, mi->v[i])) {
                if (!c->models[k].path[0])
                    return ah_fail(e, "%s: [model.%s] path is required", src, mi->v[i]);
                found = 1;
            }
        if (!found)
            return ah_fail(e, "%s:%d: model: no [model.%s] section (list [model.NAME] names, or "
                              "main for [model])", mi->file, mi->line, mi->v[i]);
        if (!strcmp(mi->v[i], "main") && !c->model_path[0])
            return ah_fail(e, "%s:%d: model: main names [model], which has no path", mi->file, mi->line);
    }
    if (!c->model_path[0] && mi->n == 0) return ah_fail(e, "%s: [model] path is required", src);
    if (!c->eval_data[0] && !c->inputs[EXP_IN_EVAL].n)
        return ah_fail(e, "%s: [evaluation] data is required", src);
    if (!c->output[0]) snprintf(c->output, sizeof c->output, "results/%s.h5", c->name);
    if (!c->cache_dir[0]) {
        char tmp[EXP_PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", c->output);
        snprintf(c->cache_dir, sizeof c->cache_dir, "%s/cache", dirname(tmp));
    }
    if (!c->model_name[0] && c->model_path[0]) {
        char tmp[EXP_PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", c->model_path);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = '\0';
        snprintf(c->model_name, sizeof c->model_name, "%.127s", basename(tmp));
    }
    return 0;
}

// Ends a parse of a file or a string (rc: inih's answer): its first error, else the
// experiment completed with its defaults.
static int end_load(exp_config *c, parse_ctx *p, int rc, ah_err *e) {
    int bad = finish_parse(p, rc, e);
    ini_reads_free(p->reads);
    if (bad) {
        free(p->text->p);
        exp_config_free(c);
        return -1;
    }
    if (finish_config(c, p, e)) return exp_config_free(c), -1;
    return 0;
}

// The experiment file `path` into c. plots_only: only its [plot.NAME] sections are wanted, so
// what an experiment requires (a model, eval data) gets stand-ins.
static int load_path(exp_config *c, const char *path, int plots_only, ah_err *e) {
    defaults(c);
    snprintf(c->source, sizeof c->source, "%s", path);
    if (plots_only) {
        snprintf(c->model_path, sizeof c->model_path, "-");
        snprintf(c->eval_data, sizeof c->eval_data, "-");
    }
    ah_buf text = {0};
    ini_reads reads = {0};
    parse_ctx p = {.c = c, .text = &text, .reads = &reads};
    char why[256];
    if (load_file(&p, path, why, sizeof why) < 0) {
        free(text.p);
        ini_reads_free(&reads);
        return ah_fail(e, "%s: cannot read: %s", path, why);
    }
    return end_load(c, &p, 0, e);
}

int exp_config_load(exp_config *c, const char *path, ah_err *e) { return load_path(c, path, 0, e); }

int exp_config_load_plots(exp_config *c, const char *path, ah_err *e) {
    if (load_path(c, path, 1, e)) return -1;
    if (!c->n_plots) {
        exp_config_free(c);
        return ah_fail(e, "%s: no [plot.NAME] section", path);
    }
    return 0;
}

static int load_text(exp_config *c, const char *text, const char *name, int stored, ah_err *e) {
    defaults(c);
    snprintf(c->source, sizeof c->source, "%s", name);
    ah_buf buf = {0};
    ini_reads reads = {0};
    parse_ctx p = {.c = c, .file = name, .str = text, .text = &buf, .reads = &reads, .stored = stored};
    p.file_id = ini_reads_file(&reads, name);
    return end_load(c, &p, ini_parse_stream(string_reader, &p, handler, &p), e);
}

int exp_config_load_string(exp_config *c, const char *text, const char *name, ah_err *e) {
    return load_text(c, text, name, 0, e);
}

int exp_config_load_stored(exp_config *c, const char *text, const char *name, ah_err *e) {
    return load_text(c, text, name, 1, e);
}

void exp_config_free(exp_config *c) {
    if (!c) return;
    free(c->ini_text);
    c->ini_text = NULL;
    free(c->sweeps);
    c->sweeps = NULL;
    c->n_sweeps = 0;
    free(c->models);
    c->models = NULL;
    c->n_models = 0;
    for (int k = 0; k < EXP_IN_COUNT; k++) {
        for (int i = 0; i < c->inputs[k].n; i++) free(c->inputs[k].v[i]);
        free(c->inputs[k].v);
        c->inputs[k].v = NULL;
        c->inputs[k].n = 0;
    }
}
