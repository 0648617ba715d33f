// params.c — the parameter table (params.h): one row per parameter of a run. Adding a parameter
// is a row here, its field in method_cfg, and its /summary column (store/store.c; a unit test
// checks that every row with a record attribute has one): docs/ARCHITECTURE.md.
#include "method/params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/gptq.h"

static const char *const RULE_WORDS[] = {"search", "duo", "fixed", "salient", NULL};   // awq_rule
static const char *const OFF_ON[] = {"off", "on", NULL};                             // index = bool
static const char *const PROPAGATE_WORDS[] = {"fp", "quantized", NULL};
static const char *const SALIENT_BY_WORDS[] = {"activation", "weight", "random", NULL};  // salient_by
static const char *const SEARCH_WORD[] = {"search", NULL};
static const char *const ALPHA_MODE_WORDS[] = {"search", "fixed", NULL};          // awq_alpha_mode
static const char *const QUANT_WORDS[] = {"rtn", "minmax", "gptq-rtn", NULL};      // quant_kind

// The method words are the method table's names, in its order (index = method_kind).
static const char *const *method_words(void) {
    static const char *words[METHOD_COUNT + 1];
    if (!words[0])
        for (int i = 0; i < METHOD_COUNT; i++) words[i] = method_name((method_kind)i);
    return words;
}

// ---- when a parameter applies, beyond the method taking it -----------------------------------

static int rule_is_salient(const method_cfg *mc) { return mc->awq.rule == AWQ_SALIENT; }
static int rule_not_salient(const method_cfg *mc) { return mc->awq.rule != AWQ_SALIENT; }
static int alpha_searched(const method_cfg *mc) {
    return mc->awq.rule != AWQ_SALIENT && mc->awq.alpha_mode == AWQ_ALPHA_SEARCH;
}
static int keeps_channels(const method_cfg *mc) { return mc->salient_pct > 0; }
// The calibration sample changes the weights of a method that needs calibration statistics;
// fp16 and rtn read calibration rows for their metrics only, so replicates of them would
// repeat one perplexity. The seed also draws channels kept at random.
static int draws_calibration(const method_cfg *mc) {
    return mc->kind != METHOD_FP16 && method_needs_calib(mc);
}
static int takes_seed(const method_cfg *mc) {
    return draws_calibration(mc) || (mc->salient_pct > 0 && mc->by == SALIENT_RANDOM);
}

// ---- run-id parts that are not "format the value" ----------------------------------------------

// Appends fmt (one %s: s) to the id in buf.
static void put(char *buf, size_t cap, const char *fmt, const char *s) {
    size_t o = strlen(buf);
    if (o < cap) snprintf(buf + o, cap - o, fmt, s);
}

// "-g128", or "-row" for one group per row.
static void id_group(const method_cfg *mc, char *buf, size_t cap) {
    char g[32];
    if (mc->q.group == QUANT_GROUP_ROW) snprintf(g, sizeof g, "row");
    else snprintf(g, sizeof g, "g%d", mc->q.group);
    put(buf, cap, "-%s", g);
}

// The rule is named unless it is search (the default) or salient (whose parts name it).
static void id_rule(const method_cfg *mc, char *buf, size_t cap) {
    if (mc->awq.rule != AWQ_SEARCH && mc->awq.rule != AWQ_SALIENT)
        put(buf, cap, "-%s", awq_rule_name(mc->awq.rule));
}

static void id_alpha(const method_cfg *mc, char *buf, size_t cap) {
    char x[32];
    if (mc->awq.alpha_mode == AWQ_ALPHA_SEARCH) {
        put(buf, cap, "%s", "-search");
        return;
    }
    snprintf(x, sizeof x, "%g", mc->awq.alpha);
    put(buf, cap, "-a%s", x);
}

// ---- the table -------------------------------------------------------------------------------

#define F(member) offsetof(method_cfg, member)

static const param_def PARAMS[PARAM_COUNT] = {
    [PARAM_METHOD] = {.name = "method", .cli = "method", .cli_arg = "M", .type = PT_WORD,
                      .def = "fp16", .field = PF_INT, .offset = F(kind), .key = KEY_ALWAYS,
                      .key_pos = 1, .key_name = "method",
                      .label = "method"},
    [PARAM_BITS] = {.name = "bits", .cli = "bits", .cli_arg = "B", .type = PT_INT, .def = "4",
                    .lo = 2, .hi = 8, .whole = 1,
                    .range_msg = "%g is not a whole number of bits in 2..8", .takes = MP_QUANT,
                    .field = PF_INT, .offset = F(q.bits), .id_pos = 1, .id_fmt = "-w%s",
                    .id_always = 1, .key = KEY_ALWAYS, .key_pos = 2, .key_name = "bits",
                    .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "bits", .label = "weight bits"},
    [PARAM_GROUP] = {.name = "group_size", .cli = "group", .cli_arg = "G", .type = PT_INT,
                     .def = "128", .lo = 1, .hi = 1 << 30, .whole = 1, .alias = "row",
                     .alias_num = QUANT_GROUP_ROW,
                     .range_msg = "%g is not a group size (a positive whole number, or -1 / row)",
                     .takes = MP_QUANT, .field = PF_INT, .offset = F(q.group), .id_pos = 2,
                     .id_part = id_group, .key = KEY_ALWAYS, .key_pos = 3, .key_name = "group",
                     .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "group",
                     .label = "group size (weights per scale)"},
    [PARAM_SCALE_RULE] = {.name = "scale_rule", .cli = "scale-rule", .cli_arg = "R",
                          .type = PT_WORD, .def = "search", .words = RULE_WORDS, .takes = MP_AWQ,
                          .field = PF_INT, .offset = F(awq.rule), .id_pos = 3,
                          .id_part = id_rule, .key = KEY_ALWAYS, .key_pos = 8,
                          .key_name = "rule", .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "rule",
                          .label = "AWQ scale rule"},
    [PARAM_CLIP] = {.name = "clip", .cli = "clip", .cli_arg = "on|off", .type = PT_WORD,
                    .def = "on", .words = OFF_ON, .takes = MP_AWQ, .field = PF_INT,
                    .offset = F(awq.clip), .id_pos = 8, .id_fmt = "-noclip", .key = KEY_ALWAYS,
                    .key_pos = 12, .key_name = "clip", .awq_key = AWQ_KEY_ALWAYS,
                    .awq_key_name = "clip", .key_index = 1, .label = "AWQ clip search"},
    [PARAM_PROPAGATE] = {.name = "propagate", .cli = "propagate", .cli_arg = "P",
                         .type = PT_WORD, .def = "fp", .words = PROPAGATE_WORDS, .takes = MP_AWQ,
                         .field = PF_INT, .offset = F(propagate_quantized), .id_pos = 9,
                         .id_fmt = "-pq", .key = KEY_ALWAYS, .key_pos = 16, .key_name = "prop",
                         .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "prop", .key_index = 1,
                         .label = "calibration input of the next block"},
    [PARAM_SALIENT_SCALE] = {.name = "salient_scale", .cli = "salient-scale", .cli_arg = "S",
                             .type = PT_REAL, .def = "2", .lo = 0, .hi = 1e6, .lo_open = 1,
                             .range_msg = "%g is not a positive scale", .takes = MP_AWQ,
                             .applies = rule_is_salient, .field = PF_DOUBLE,
                             .offset = F(awq.salient_scale), .id_pos = 4, .id_fmt = "-s%s",
                             .id_always = 1, .key = KEY_ALWAYS, .key_pos = 14,
                             .key_name = "sscale", .awq_key = AWQ_KEY_ALWAYS,
                             .awq_key_name = "sscale", .label = "scale of the salient channels"},
    [PARAM_SCALE_PCT] = {.name = "scale_pct", .cli = "scale-pct", .cli_arg = "P",
                         .type = PT_REAL, .def = "1", .lo = 0, .hi = 100,
                         .range_msg = "%g%% is outside [0, 100]", .takes = MP_AWQ,
                         .applies = rule_is_salient, .field = PF_DOUBLE,
                         .offset = F(awq.scale_pct), .id_pos = 5, .id_fmt = "-top%s",
                         .id_always = 1, .key = KEY_ALWAYS, .key_pos = 15, .key_name = "spct",
                         .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "spct",
                         .label = "channels scaled (%)"},
    [PARAM_ALPHA] = {.name = "alpha", .cli = "alpha", .cli_arg = "A", .type = PT_REAL,
                     .def = "search", .words = SEARCH_WORD, .lo = 0, .hi = 1,
                     .range_msg = "%g is outside [0, 1]", .takes = MP_AWQ,
                     .applies = rule_not_salient, .field = PF_ALPHA, .id_pos = 6,
                     .id_part = id_alpha, .key = KEY_ALWAYS, .key_pos = 11, .key_name = "alpha",
                     .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "alpha",
                     .label = "AWQ alpha (fixed scaling exponent)"},
    [PARAM_GRID] = {.name = "grid", .cli = "grid", .cli_arg = "N", .type = PT_INT, .def = "20",
                    .lo = 1, .hi = AWQ_MAX_GRID - 2, .whole = 1,
                    .range_msg = "%g grid points is outside 1..99", .takes = MP_AWQ,
                    .applies = alpha_searched, .field = PF_INT, .offset = F(awq.grid_points),
                    .id_pos = 7, .id_fmt = "%s", .key = KEY_ALWAYS, .key_pos = 9,
                    .key_name = "grid", .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "grid",
                    .label = "alpha grid points"},
    [PARAM_DAMP] = {.name = "damp", .cli = "damp", .cli_arg = "D", .type = PT_REAL,
                    .def = "0.01", .lo = 0, .hi = 1e3, .lo_open = 1,
                    .range_msg = "%g is not a relative dampening in (0, 1000]", .takes = MP_GPTQ,
                    .field = PF_DOUBLE, .offset = F(gptq.damp), .id_pos = 11,
                    .id_fmt = "-damp%s", .key = KEY_GPTQ, .key_pos = 17, .key_name = "damp",
                    .awq_key = AWQ_KEY_PROPAGATED_GPTQ, .awq_key_name = "damp",
                    .label = "GPTQ dampening"},
    [PARAM_BLOCK_SIZE] = {.name = "block_size", .cli = "block-size", .cli_arg = "B",
                          .type = PT_INT, .def = "128", .lo = 1, .hi = 1 << 20, .whole = 1,
                          .range_msg = "%g is not a block size (a whole number >= 1)",
                          .takes = MP_GPTQ, .field = PF_INT, .offset = F(gptq.block_size),
                          .id_pos = 12, .id_fmt = "-bs%s", .key = KEY_GPTQ, .key_pos = 18,
                          .key_name = "block", .awq_key = AWQ_KEY_PROPAGATED_GPTQ,
                          .awq_key_name = "block", .label = "GPTQ block size"},
    [PARAM_ACT_ORDER] = {.name = "act_order", .cli = "act-order", .type = PT_WORD, .def = "off",
                         .words = OFF_ON, .takes = MP_GPTQ, .field = PF_INT,
                         .offset = F(gptq.act_order), .id_pos = 10, .id_fmt = "-actorder",
                         .key = KEY_GPTQ, .key_pos = 19, .key_name = "act_order",
                         .awq_key = AWQ_KEY_PROPAGATED_GPTQ, .awq_key_name = "act_order",
                         .key_index = 1, .label = "GPTQ act-order"},
    [PARAM_SALIENT_PCT] = {.name = "salient_pct", .cli = "salient-pct", .cli_arg = "P",
                           .type = PT_REAL, .def = "0", .lo = 0, .hi = 100,
                           .range_msg = "%g%% is outside [0, 100]", .takes = MP_SALIENT,
                           .field = PF_DOUBLE, .offset = F(salient_pct), .id_pos = 13,
                           .id_fmt = "-keep%s", .key = KEY_ALWAYS, .key_pos = 5,
                           .key_name = "salient_pct", .awq_key = AWQ_KEY_PROPAGATED,
                           .awq_key_name = "salient_pct",
                           .label = "salient channels kept in FP16 (%)"},
    [PARAM_SALIENT_BY] = {.name = "salient_by", .cli = "salient-by", .cli_arg = "S",
                          .type = PT_WORD, .def = "activation", .words = SALIENT_BY_WORDS,
                          .takes = MP_SALIENT, .applies = keeps_channels, .field = PF_INT,
                          .offset = F(by), .id_pos = 14, .id_fmt = "-%.3s", .id_always = 1,
                          .key = KEY_ALWAYS, .key_pos = 6, .key_name = "salient_by",
                          .awq_key = AWQ_KEY_PROPAGATED, .awq_key_name = "by",
                          .label = "salient channels chosen by"},
    [PARAM_CALIB_SAMPLES] = {.name = "calib_samples", .type = PT_INT, .def = "128", .lo = 1,
                             .hi = 1 << 20, .whole = 1,
                             .range_msg = "%g is not a number of calibration sequences (>= 1)",
                             .applies = draws_calibration, .field = PF_INT,
                             .offset = F(calib_samples), .id_pos = 15, .id_fmt = "-n%s",
                             .id_swept = 1, .own_record = 1,
                             .label = "calibration sequences"},
    [PARAM_CALIB_SEQLEN] = {.name = "calib_seqlen", .type = PT_INT, .def = "0", .lo = 0,
                            .hi = 1 << 20, .whole = 1,
                            .range_msg = "%g is not a calibration length (tokens; 0 = the "
                                         "model's, at most 512)",
                            .applies = draws_calibration, .field = PF_INT,
                            .offset = F(calib_seqlen), .id_pos = 16, .id_fmt = "-cl%s",
                            .id_swept = 1, .own_record = 1,
                            .label = "calibration sequence length (tokens)"},
    [PARAM_SEED] = {.name = "seed", .cli = "seed", .cli_arg = "S", .type = PT_INT, .def = "0",
                    .lo = 0, .hi = 2147483647.0, .whole = 1,
                    .range_msg = "%g is not a seed (a whole number in 0..2147483647)",
                    .applies = takes_seed, .field = PF_U64, .offset = F(seed), .id_pos = 17,
                    .id_fmt = "-seed%s", .id_swept = 1, .key = KEY_ALWAYS, .key_pos = 7,
                    .key_name = "seed", .awq_key = AWQ_KEY_PROPAGATED, .awq_key_name = "seed",
                    .label = "seed"},
    [PARAM_AWQ_SAMPLES] = {.name = "awq_samples", .cli = "awq-samples", .cli_arg = "K",
                           .type = PT_INT, .def = "0", .lo = 0, .hi = 1 << 20, .whole = 1,
                           .range_msg = "%g is not a number of sequences (0 = all)",
                           .takes = MP_AWQ, .field = PF_INT, .offset = F(awq.samples),
                           .key = KEY_ALWAYS, .key_pos = 13, .key_name = "samples",
                           .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "samples",
                           .label = "calibration sequences of the AWQ search"},
    [PARAM_GRID_ONE] = {.name = "grid_include_one", .cli = "grid-include-one", .type = PT_WORD,
                        .def = "off", .words = OFF_ON, .takes = MP_AWQ,
                        .applies = alpha_searched, .field = PF_INT,
                        .offset = F(awq.grid_include_one), .key = KEY_ALWAYS, .key_pos = 10,
                        .key_name = "one", .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "one",
                        .key_index = 1, .label = "alpha grid includes 1"},
    [PARAM_ALPHA_MODE] = {.name = "alpha_mode", .type = PT_WORD, .def = "search",
                          .words = ALPHA_MODE_WORDS, .takes = MP_AWQ, .applies = rule_not_salient,
                          .field = PF_INT, .offset = F(awq.alpha_mode),
                          .label = "AWQ alpha searched or fixed"},
    [PARAM_QUANTIZER] = {.name = "quantizer", .type = PT_WORD, .def = "minmax",
                         .words = QUANT_WORDS, .takes = MP_QUANT, .field = PF_INT,
                         .offset = F(q.kind), .key = KEY_ALWAYS, .key_pos = 4,
                         .key_name = "quant", .awq_key = AWQ_KEY_ALWAYS, .awq_key_name = "quant",
                         .key_index = 1, .label = "quantizer"},
};

#undef F

const param_def *param_of(param_id p) { return (int)p >= 0 && p < PARAM_COUNT ? &PARAMS[p] : NULL; }

const param_def *param_named(const char *name) {
    for (int i = 0; i < PARAM_COUNT; i++)
        if (!strcmp(PARAMS[i].name, name)) return &PARAMS[i];
    return NULL;
}

const char *param_name(param_id p) { return param_of(p) ? PARAMS[p].name : "?"; }
param_id param_index(const param_def *d) { return (param_id)(d - PARAMS); }

static const char *const *words_of(param_id p) {
    return p == PARAM_METHOD ? method_words() : PARAMS[p].words;
}

static int word_index(const char *const *words, const char *s) {
    for (int i = 0; words && words[i]; i++)
        if (!strcmp(words[i], s)) return i;
    return -1;
}

const char *param_words(param_id p, char *buf, size_t cap) {
    const char *const *w = words_of(p);
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; w && w[i] && o + 1 < cap; i++) {
        int n = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", w[i]);
        o = n < 0 || (size_t)n >= cap - o ? cap - 1 : o + (size_t)n;
    }
    return buf;
}

int param_parse(param_id p, const char *text, param_value *v, char *why, size_t cap) {
    const param_def *d = &PARAMS[p];
    v->word = word_index(words_of(p), text);
    v->num = NAN;
    if (v->word >= 0) return 0;
    if (d->type == PT_WORD) {
        char w[256];
        snprintf(why, cap, "unknown value '%s' (expected %s)", text, param_words(p, w, sizeof w));
        return -1;
    }
    if (d->alias && !strcmp(text, d->alias)) {
        v->num = d->alias_num;
        return 0;
    }
    char *end;
    errno = 0;
    v->num = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v->num)) {
        snprintf(why, cap, "expected a number%s%s%s, got '%s'", d->words ? " or " : "",
                 d->words ? d->words[0] : "", d->alias ? " (or row)" : "", text);
        return -1;
    }
    return 0;
}

int param_check(param_id p, const param_value *v, char *why, size_t cap) {
    const param_def *d = &PARAMS[p];
    if (v->word >= 0 || d->type == PT_WORD) return 0;
    double x = v->num;
    if (d->alias && x == d->alias_num) return 0;
    int low = d->lo_open ? !(x > d->lo) : !(x >= d->lo);
    if (low || !(x <= d->hi) || (d->whole && x != floor(x))) {
        snprintf(why, cap, d->range_msg, x);
        return -1;
    }
    return 0;
}

param_value param_default(param_id p) {
    param_value v;
    char why[256];
    param_parse(p, PARAMS[p].def, &v, why, sizeof why);   // the table's own defaults parse
    return v;
}

// ---- values in method_cfg ----------------------------------------------------------------------

_Static_assert(PARAM_COUNT <= 32, "method_cfg.swept has a bit per parameter");

// PF_INT rows hold enums (a word's index) as int: the enums must be int-sized.
_Static_assert(sizeof(method_kind) == sizeof(int) && sizeof(awq_rule) == sizeof(int) &&
               sizeof(salient_by) == sizeof(int) && sizeof(quant_kind) == sizeof(int) &&
               sizeof(awq_alpha_mode) == sizeof(int), "PF_INT fields are int-sized");

void param_set(method_cfg *mc, param_id p, param_value v) {
    const param_def *d = &PARAMS[p];
    char *at = (char *)mc + d->offset;
    switch (d->field) {
    case PF_INT: {
        int x = d->type == PT_WORD ? v.word : (int)v.num;
        memcpy(at, &x, sizeof x);
        break;
    }
    case PF_DOUBLE: memcpy(at, &v.num, sizeof v.num); break;
    case PF_U64: {
        uint64_t x = (uint64_t)v.num;
        memcpy(at, &x, sizeof x);
        break;
    }
    case PF_ALPHA:
        mc->awq.alpha_mode = v.word >= 0 ? AWQ_ALPHA_SEARCH : AWQ_ALPHA_FIXED;
        mc->awq.alpha = v.word >= 0 ? 0.0 : v.num;
        break;
    }
}

void param_defaults(method_cfg *mc) {
    memset(mc, 0, sizeof *mc);
    for (int p = 0; p < PARAM_COUNT; p++) param_set(mc, (param_id)p, param_default((param_id)p));
}

param_value param_get(const method_cfg *mc, param_id p) {
    const param_def *d = &PARAMS[p];
    const char *at = (const char *)mc + d->offset;
    param_value v = {NAN, -1};
    switch (d->field) {
    case PF_INT: {
        int x;
        memcpy(&x, at, sizeof x);
        if (d->type == PT_WORD) v.word = x;
        v.num = x;
        break;
    }
    case PF_DOUBLE: memcpy(&v.num, at, sizeof v.num); break;
    case PF_U64: {
        uint64_t x;
        memcpy(&x, at, sizeof x);
        v.num = (double)x;
        break;
    }
    case PF_ALPHA:
        // Keys written before alpha_mode existed hold -1 for a searched alpha: num keeps it
        // so the pinned keys do not change; everything else reads the word.
        if (mc->awq.alpha_mode == AWQ_ALPHA_SEARCH) v.word = 0, v.num = -1.0;
        else v.num = mc->awq.alpha;
        break;
    }
    return v;
}

int param_is_default(const method_cfg *mc, param_id p) {
    param_value a = param_get(mc, p), b = param_default(p);
    return a.word == b.word && (a.word >= 0 || a.num == b.num);
}

int param_applies(const method_cfg *mc, param_id p) {
    const param_def *d = param_of(p);
    if (!d) return 0;
    if (d->takes && (mc->kind == METHOD_FP16 || !method_takes(mc->kind, d->takes))) return 0;
    return !d->applies || d->applies(mc);
}

const char *param_text(param_id p, param_value v, char *buf, size_t cap) {
    const char *const *w = words_of(p);
    if (v.word >= 0 && w) snprintf(buf, cap, "%s", w[v.word]);
    else if (PARAMS[p].alias && v.num == PARAMS[p].alias_num) snprintf(buf, cap, "%s", PARAMS[p].alias);
    else snprintf(buf, cap, "%g", v.num);
    return buf;
}

const char *param_exact(param_id p, param_value v, char *buf, size_t cap) {
    if (v.word >= 0 || PARAMS[p].type != PT_REAL) return param_text(p, v, buf, cap);
    for (int digits = 6; digits <= 17; digits++) {   // 0.5000001, not 0.50000009999999999
        snprintf(buf, cap, "%.*g", digits, v.num);
        if (strtod(buf, NULL) == v.num) break;
    }
    return buf;
}

const char *param_label(param_id p, param_value v, char *buf, size_t cap) {
    if (p == PARAM_GROUP && v.word < 0 && v.num == QUANT_GROUP_ROW) {
        return quant_group_label(v.num, buf, cap);
    }
    return param_text(p, v, buf, cap);
}

// ---- ids, descriptions, keys -------------------------------------------------------------------

void param_run_id(const method_cfg *mc, char *id, size_t cap) {
    snprintf(id, cap, "%s", method_traits_of(mc->kind)->id_name);   // fp16: nothing else applies
    for (int pos = 1; pos < PARAM_COUNT; pos++)
        for (int p = 0; p < PARAM_COUNT; p++) {
            const param_def *d = &PARAMS[p];
            if (d->id_pos != pos || !param_applies(mc, (param_id)p)) continue;
            if (d->id_part) {
                d->id_part(mc, id, cap);
            } else if (d->id_swept ? (mc->swept >> p) & 1u
                                   : d->id_always || !param_is_default(mc, (param_id)p)) {
                char t[64];
                put(id, cap, d->id_fmt, param_text((param_id)p, param_get(mc, (param_id)p), t, sizeof t));
            }
        }
}

void param_describe(const method_cfg *mc, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int p = 0; p < PARAM_COUNT && o < cap; p++) {
        if (!param_applies(mc, (param_id)p)) continue;
        // Beyond the sweep axes: options shown when not their default, derived rows never.
        if (p >= PARAM_AXIS_COUNT && (!PARAMS[p].cli || param_is_default(mc, (param_id)p))) continue;
        char t[64];
        int n = snprintf(buf + o, cap - o, "%s%s=%s", o ? " " : "", PARAMS[p].name,
                         param_text((param_id)p, param_get(mc, (param_id)p), t, sizeof t));
        o = n < 0 || (size_t)n >= cap - o ? cap : o + (size_t)n;
    }
}

// name=value as a key prints it: words as text (or their index), integers %d (the seed %llu),
// reals %.9g.
static size_t key_item(char *buf, size_t cap, size_t o, const char *sep, const char *name,
                       const method_cfg *mc, param_id p) {
    const param_def *d = &PARAMS[p];
    param_value v = param_get(mc, p);
    if (o >= cap) return o;
    char val[64];
    if (d->type == PT_WORD && !d->key_index) snprintf(val, sizeof val, "%s", words_of(p)[v.word]);
    else if (d->type == PT_WORD) snprintf(val, sizeof val, "%d", v.word);
    else if (d->field == PF_U64) snprintf(val, sizeof val, "%.0f", v.num);   // exact below 2^53
    else if (d->type == PT_INT) snprintf(val, sizeof val, "%d", (int)v.num);
    else snprintf(val, sizeof val, "%.9g", v.num);
    int n = snprintf(buf + o, cap - o, "%s%s=%s", sep, name, val);
    return n < 0 || (size_t)n >= cap - o ? cap : o + (size_t)n;
}

void param_key_text(const method_cfg *mc, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    // Only GPTQ methods carry the GPTQ rows: other keys stay as they were before GPTQ existed.
    for (int pos = 1; pos < PARAM_COUNT; pos++)
        for (int p = 0; p < PARAM_COUNT; p++) {
            const param_def *d = &PARAMS[p];
            if (d->key_pos != pos || d->key == KEY_NONE) continue;
            if (d->key == KEY_GPTQ && !method_uses_gptq(mc->kind)) continue;
            o = key_item(buf, cap, o, o ? " " : "", d->key_name, mc, (param_id)p);
        }
}

void param_awq_key_text(const method_cfg *mc, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    // The search itself; then, with propagate = quantized (later blocks' searches see this
    // block quantized), what quantizes it: kept channels, and GPTQ for awq+gptq. With
    // propagate = fp the search is awq's exactly, so awq and awq+gptq share cache entries.
    for (int when = AWQ_KEY_ALWAYS; when <= AWQ_KEY_PROPAGATED_GPTQ; when++) {
        if (when != AWQ_KEY_ALWAYS && !mc->propagate_quantized) break;
        if (when == AWQ_KEY_PROPAGATED_GPTQ) {
            if (!method_uses_gptq(mc->kind)) break;
            o += o < cap ? (size_t)snprintf(buf + o, cap - o, "|then=gptq") : 0;
        }
        for (int pos = 1; pos < PARAM_COUNT; pos++)
            for (int p = 0; p < PARAM_COUNT; p++)
                if (PARAMS[p].key_pos == pos && PARAMS[p].awq_key == when)
                    o = key_item(buf, cap, o, o ? "|" : "", PARAMS[p].awq_key_name, mc, (param_id)p);
    }
}
