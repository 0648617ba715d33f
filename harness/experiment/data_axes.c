// data_axes.c — crossing a sweep's inputs (data_axes.h).
#include "experiment/data_axes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/names.h"

const exp_input_axis_def EXP_INPUT_AXES[EXP_IN_COUNT] = {
    [EXP_IN_MODEL] = {.key = "model", .id_fmt = "-m.%s", .label = EXP_LABEL_MODEL,
                      .column = "model_name"},
    [EXP_IN_EVAL] = {.key = "eval_data", .id_fmt = "-ev.%s", .label = EXP_LABEL_DATA,
                     .column = "eval_data"},
    [EXP_IN_SEQLEN] = {.key = "seqlen", .id_fmt = "-ctx%s", .label = EXP_LABEL_AS_WRITTEN,
                       .column = "seqlen"},
    [EXP_IN_CALIB] = {.key = "calib", .id_fmt = "-cal.%s", .label = EXP_LABEL_DATA,
                      .column = "calib", .calibrated_only = 1},
    [EXP_IN_PROTOCOL] = {.key = "protocol", .id_fmt = "-p.%s", .label = EXP_LABEL_AS_WRITTEN,
                         .column = "protocol"},
};

int exp_input_keys_list(const exp_config *swept_in, char *buf, size_t cap) {
    size_t o = 0;
    int n = 0;
    buf[0] = '\0';
    for (int k = 0; k < EXP_IN_COUNT && o < cap; k++)
        if (!swept_in || swept_in->inputs[k].n)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", n++ ? ", " : "", EXP_INPUT_AXES[k].key);
    return n;
}

int exp_inputs_build(const exp_config *c, exp_input **in, int *n, ah_err *e) {
    int total = 1;
    for (int k = 0; k < EXP_IN_COUNT; k++) total *= c->inputs[k].n ? c->inputs[k].n : 1;
    if (!(*in = calloc((size_t)total, sizeof **in))) return ah_fail(e, "out of memory");
    // Mixed radix in EXP_INPUT_AXES order: the last axis (protocol) fastest, model outermost.
    for (int i = 0; i < total; i++) {
        int rest = i;
        for (int k = EXP_IN_COUNT - 1; k >= 0; k--) {
            int m = c->inputs[k].n ? c->inputs[k].n : 1;
            (*in)[i].v[k] = rest % m;
            rest /= m;
        }
    }
    *n = total;
    return 0;
}

static const exp_model *model_of(const exp_config *c, const char *key) {
    for (int i = 0; i < c->n_models; i++)
        if (!strcmp(c->models[i].key, key)) return &c->models[i];
    return NULL;   // "main": [model]
}

void exp_input_config(const exp_config *c, const exp_input *in, exp_config *out) {
    *out = *c;
    const exp_input_values *iv = c->inputs;
    if (iv[EXP_IN_MODEL].n) {
        const exp_model *m = model_of(c, iv[EXP_IN_MODEL].v[in->v[EXP_IN_MODEL]]);
        if (m) {   // (config.c checked that every name is a section or main)
            snprintf(out->model_path, sizeof out->model_path, "%s", m->path);
            snprintf(out->tokenizer, sizeof out->tokenizer, "%s", m->tokenizer);
            snprintf(out->model_name, sizeof out->model_name, "%s", m->name);
            snprintf(out->hf_id, sizeof out->hf_id, "%s", m->hf_id);
        }
    }
    if (iv[EXP_IN_EVAL].n)
        snprintf(out->eval_data, sizeof out->eval_data, "%s", iv[EXP_IN_EVAL].v[in->v[EXP_IN_EVAL]]);
    if (iv[EXP_IN_SEQLEN].n) out->seqlen = atoi(iv[EXP_IN_SEQLEN].v[in->v[EXP_IN_SEQLEN]]);
    if (iv[EXP_IN_CALIB].n)
        snprintf(out->calib, sizeof out->calib, "%s", iv[EXP_IN_CALIB].v[in->v[EXP_IN_CALIB]]);
    if (iv[EXP_IN_PROTOCOL].n)   // (config.c checked the words)
        ppl_protocol_parse(iv[EXP_IN_PROTOCOL].v[in->v[EXP_IN_PROTOCOL]], &out->protocol);
}

// A plain label of a data spec: "wikitext2:train" -> "wikitext2-train", "text:dir/pile.txt@0:9"
// -> "pile", "jsonl:x/c4.jsonl" -> "c4".
static void spec_label(const char *spec, char *buf, size_t cap) {
    char tmp[EXP_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", spec);
    const char *colon = strchr(tmp, ':');
    char *s = tmp;
    if (colon && !strncmp(tmp, "wikitext2:", 10)) {
        tmp[9] = '-';
    } else if (colon) {
        s = tmp + (colon - tmp) + 1;
        char *at = strchr(s, '@');
        if (at) *at = '\0';
        char *slash = strrchr(s, '/');
        if (slash) s = slash + 1;
        char *dot = strchr(s, '.');
        if (dot && dot != s) *dot = '\0';
    }
    size_t o = 0;
    for (; *s && o + 1 < cap && o < 24; s++) buf[o++] = ah_plain_char((unsigned char)*s) ? *s : '-';
    buf[o] = '\0';
    if (!o) snprintf(buf, cap, "data");
}

// The label of value i of input axis k; a label two values share gets the value's position
// appended ("pile2"), so ids stay apart.
static void value_label(const exp_config *c, int k, int i, char *buf, size_t cap) {
    const exp_input_values *iv = &c->inputs[k];
    if (EXP_INPUT_AXES[k].label == EXP_LABEL_AS_WRITTEN) {
        snprintf(buf, cap, "%s", iv->v[i]);
        return;
    }
    if (EXP_INPUT_AXES[k].label == EXP_LABEL_MODEL) {
        const exp_model *m = model_of(c, iv->v[i]);
        spec_label(m ? m->key : c->model_name, buf, cap);   // keys are plain (config.c)
        if (!m) snprintf(buf, cap, "main");
        return;
    }
    spec_label(iv->v[i], buf, cap);
    for (int j = 0; j < iv->n; j++) {
        char other[64];
        if (j == i) continue;
        spec_label(iv->v[j], other, sizeof other);
        if (!strcmp(other, buf)) {
            size_t L = strlen(buf);
            snprintf(buf + L, cap - L, "%d", i + 1);
            return;
        }
    }
}

void exp_input_suffix(const exp_config *c, const exp_input *in, int takes_calib, char *buf,
                      size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < EXP_IN_COUNT; k++) {
        if (!c->inputs[k].n || (EXP_INPUT_AXES[k].calibrated_only && !takes_calib) || o >= cap)
            continue;
        char label[64];
        value_label(c, k, in->v[k], label, sizeof label);
        int n = snprintf(buf + o, cap - o, EXP_INPUT_AXES[k].id_fmt, label);
        o = n < 0 || (size_t)n >= cap - o ? cap : o + (size_t)n;
    }
}

void exp_input_describe(const exp_config *c, const exp_input *in, int takes_calib, char *buf,
                        size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < EXP_IN_COUNT; k++) {
        if (!c->inputs[k].n || (EXP_INPUT_AXES[k].calibrated_only && !takes_calib) || o >= cap)
            continue;
        int n = snprintf(buf + o, cap - o, "%s%s=%s", o ? " " : "", EXP_INPUT_AXES[k].key,
                         c->inputs[k].v[in->v[k]]);
        o = n < 0 || (size_t)n >= cap - o ? cap : o + (size_t)n;
    }
}
