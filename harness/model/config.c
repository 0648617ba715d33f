// config.c — config.json -> model_config, with every dimension validated.
#include <jansson.h>
#include <string.h>

#include "model/model.h"

// Reads an integer field; missing -> def (or error when def < 0 and required).
static int get_int(const json_t *root, const char *key, long long def, int required,
                   long long lo, long long hi, int *out, const char *file, ah_err *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return ah_fail(e, "%s: field '%s' missing", file, key);
        *out = (int)def;
        return 0;
    }
    if (!json_is_integer(v)) return ah_fail(e, "%s: field '%s' must be an integer", file, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return ah_fail(e, "%s: field '%s' = %lld out of range [%lld, %lld]", file, key, x, lo, hi);
    *out = (int)x;
    return 0;
}

// Reads a float field; missing -> def. Accepted values lie in [lo, hi] both as the double
// the JSON holds and after narrowing to float (1e-85 is positive as a double but 0 as a float).
// The ranges are those of real checkpoints with a wide margin, so that nonsense is blamed on
// the field here and not, later, on the weights whose activations it turned into inf / NaN.
static int get_float(const json_t *root, const char *key, double def, double lo, double hi,
                     float *out, const char *file, ah_err *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = (float)def;
        return 0;
    }
    if (!json_is_number(v)) return ah_fail(e, "%s: field '%s' must be a number", file, key);
    double x = json_number_value(v);
    float f = (float)x;
    if (!(x >= lo && x <= hi) || !(f >= (float)lo && f <= (float)hi))
        return ah_fail(e, "%s: field '%s' = %g out of range [%g, %g]", file, key, x, lo, hi);
    *out = f;
    return 0;
}

static int get_bool(const json_t *root, const char *key, int def, int *out, const char *file,
                    ah_err *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) return ah_fail(e, "%s: field '%s' must be true or false", file, key);
    *out = json_is_true(v);
    return 0;
}

static int parse_opt(model_config *c, const json_t *r, const char *f, ah_err *e) {
    int proj = 0, bias = 1, affine = 1;
    if (get_int(r, "ffn_dim", 0, 1, 1, MODEL_MAX_DIM, &c->hidden_dim, f, e) ||
        get_int(r, "word_embed_proj_dim", c->dim, 0, 1, MODEL_MAX_DIM, &proj, f, e) ||
        get_bool(r, "do_layer_norm_before", 1, &c->norm_before, f, e) ||
        get_bool(r, "enable_bias", 1, &bias, f, e) ||
        get_bool(r, "layer_norm_elementwise_affine", 1, &affine, f, e) ||
        get_bool(r, "tie_word_embeddings", 1, &c->tied_embeddings, f, e))
        return -1;
    // OPT-350m projects embeddings to a smaller width; that needs project_in/out, not built.
    if (proj != c->dim)
        return ah_fail(e, "%s: word_embed_proj_dim %d != hidden_size %d is not supported",
                       f, proj, c->dim);
    if (!bias || !affine)
        return ah_fail(e, "%s: OPT without biases or affine LayerNorm is not supported", f);
    json_t *act = json_object_get(r, "activation_function");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "relu") != 0))
        return ah_fail(e, "%s: OPT activation_function must be \"relu\"", f);
    c->norm_eps = 1e-5f;
    c->head_dim = c->dim / c->n_heads;
    c->n_kv_heads = c->n_heads;
    return 0;
}

static int parse_llama_like(model_config *c, const json_t *r, const char *f, ah_err *e) {
    // Without an explicit head_dim it is hidden_size / heads, which must then be exact (a
    // truncated quotient would give q/k/v shapes no checkpoint has, or 0 for heads > width).
    json_t *hd = json_object_get(r, "head_dim");
    if ((!hd || json_is_null(hd)) && c->dim % c->n_heads != 0)
        return ah_fail(e, "%s: hidden_size %d is not a multiple of num_attention_heads %d (and no "
                       "head_dim is given)", f, c->dim, c->n_heads);
    if (get_int(r, "intermediate_size", 0, 1, 1, MODEL_MAX_DIM, &c->hidden_dim, f, e) ||
        get_int(r, "num_key_value_heads", c->n_heads, 0, 1, c->n_heads, &c->n_kv_heads, f, e) ||
        get_int(r, "head_dim", c->dim / c->n_heads, 0, 2, MODEL_MAX_DIM, &c->head_dim, f, e) ||
        get_float(r, "rms_norm_eps", 1e-6, MODEL_MIN_EPS, MODEL_MAX_EPS, &c->norm_eps, f, e) ||
        get_float(r, "rope_theta", 10000.0, MODEL_MIN_THETA, MODEL_MAX_THETA, &c->rope_theta, f, e) ||
        get_bool(r, "tie_word_embeddings", 0, &c->tied_embeddings, f, e))
        return -1;
    json_t *rs = json_object_get(r, "rope_scaling");
    if (rs && !json_is_null(rs))
        return ah_fail(e, "%s: rope_scaling is not supported yet", f);
    if (c->n_heads % c->n_kv_heads != 0)
        return ah_fail(e, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                       f, c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 != 0) return ah_fail(e, "%s: head_dim %d must be even for rotary", f, c->head_dim);
    // The attention width H*D sizes q/o and is an int everywhere: bound it like the others.
    if ((long long)c->n_heads * c->head_dim > MODEL_MAX_DIM)
        return ah_fail(e, "%s: num_attention_heads %d x head_dim %d exceeds %d", f, c->n_heads,
                       c->head_dim, MODEL_MAX_DIM);
    c->norm_before = 1;
    return 0;
}

int model_config_parse(model_config *c, const char *text, const char *file, ah_err *e) {
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *r = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!r) return ah_fail(e, "%s: invalid JSON at line %d: %s", file, je.line, je.text);
    int rc = -1;
    if (!json_is_object(r)) {
        ah_fail(e, "%s: expected a JSON object", file);
        goto done;
    }
    json_t *mt = json_object_get(r, "model_type");
    if (!mt || !json_is_string(mt)) {
        ah_fail(e, "%s: field 'model_type' missing", file);
        goto done;
    }
    c->arch = arch_find(json_string_value(mt));
    if (!c->arch) {
        ah_fail(e, "%s: unknown model_type '%s' (supported: %s)", file, json_string_value(mt),
                arch_supported_list());
        goto done;
    }
    if (get_int(r, "hidden_size", 0, 1, 1, MODEL_MAX_DIM, &c->dim, file, e) ||
        get_int(r, "num_hidden_layers", 0, 1, 1, MODEL_MAX_LAYERS, &c->n_layers, file, e) ||
        get_int(r, "num_attention_heads", 0, 1, 1, MODEL_MAX_DIM, &c->n_heads, file, e) ||
        get_int(r, "vocab_size", 0, 1, 1, MODEL_MAX_VOCAB, &c->vocab_size, file, e) ||
        get_int(r, "max_position_embeddings", 2048, 0, 1, 1 << 24, &c->max_seq, file, e) ||
        get_int(r, "bos_token_id", -1, 0, -1, MODEL_MAX_VOCAB, &c->bos_id, file, e) ||
        get_int(r, "eos_token_id", -1, 0, -1, MODEL_MAX_VOCAB, &c->eos_id, file, e))
        goto done;
    if (c->arch->norm == NORM_LAYER ? parse_opt(c, r, file, e) : parse_llama_like(c, r, file, e))
        goto done;
    if (c->arch->norm == NORM_LAYER && c->head_dim * c->n_heads != c->dim) {
        ah_fail(e, "%s: hidden_size %d is not a multiple of num_attention_heads %d", file, c->dim,
                c->n_heads);
        goto done;
    }
    rc = 0;
done:
    json_decref(r);
    return rc;
}
