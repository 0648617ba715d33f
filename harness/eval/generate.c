// generate.c — greedy and top-k generation over resident fp32 blocks (generate.h).
#include "eval/generate.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/progress.h"
#include "core/quantile.h"
#include "core/vecmax.h"
#include "model/forward.h"
#include "model/forward_kv.h"
#include "packed/head.h"

// Index of the largest logit (ties: the lowest id, as torch.argmax).
static int argmax(const float *x, int n) { return (int)ah_argmax_f32(x, (size_t)n); }

typedef struct {
    float v;
    int id;
} scored;

static int by_value_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : x->id - y->id;
}

// Samples among the k largest logits with softmax(logit / temperature).
static int sample_top_k(const float *logits, int V, int k, double temp, gsl_rng *rng, scored *tmp) {
    for (int i = 0; i < V; i++) tmp[i] = (scored){logits[i], i};
    qsort(tmp, (size_t)V, sizeof *tmp, by_value_desc);
    if (k > V) k = V;
    double sum = 0.0;
    for (int i = 0; i < k; i++) sum += exp((tmp[i].v - tmp[0].v) / temp);
    double u = gsl_rng_uniform(rng) * sum, acc = 0.0;
    for (int i = 0; i < k; i++) {
        acc += exp((tmp[i].v - tmp[0].v) / temp);
        if (u < acc) return tmp[i].id;
    }
    return tmp[k - 1].id;
}

// The checks both generations make before any work.
static int check_prompt(const model_config *c, const int32_t *prompt, int n_prompt, ah_err *e) {
    if (n_prompt < 1) return ah_fail(e, "generate: the prompt has no tokens");
    if (n_prompt >= c->max_seq)
        return ah_fail(e, "generate: the prompt (%d tokens) fills the model's context (%d)", n_prompt,
                       c->max_seq);
    for (int i = 0; i < n_prompt; i++)   // embedding rows are indexed unchecked
        if (prompt[i] < 0 || prompt[i] >= c->vocab_size)
            return ah_fail(e, "generate: prompt token id %d at position %d is outside the model's "
                           "vocabulary (%d): tokenizer and model do not match", prompt[i], i,
                           c->vocab_size);
    return 0;
}

int gen_run_kv(const model *m, block_f32 *const *blocks, const int32_t *prompt, int n_prompt,
               const gen_opts *o, int32_t *out, int *n_out, gen_token_fn cb, void *ctx,
               gen_stats *st, ah_err *e) {
    const model_config *c = &m->cfg;
    int P = n_prompt + o->max_new < c->max_seq ? n_prompt + o->max_new : c->max_seq;
    *n_out = 0;
    if (check_prompt(c, prompt, n_prompt, e)) return -1;
    int rc = -1, V = c->vocab_size, C = c->dim;
    fwd_state *s = fwd_state_new(c, P, 1, e);
    fwd_kv *kv = s ? fwd_kv_new(c, P, e) : NULL;
    float *x = ah_calloc((size_t)P * C, sizeof(float), "generation activations", e);
    float *logits = malloc((size_t)V * sizeof *logits);
    scored *tmp = malloc((size_t)V * sizeof *tmp);
    double *lat = malloc(((size_t)o->max_new + 1) * sizeof *lat);
    float *fnorm = NULL, *fnorm_b = NULL;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!s || !kv || !x || !logits || !tmp || !lat || !rng) {
        if (!e || !e->msg[0]) ah_fail(e, "out of memory (generate)");
        goto done;
    }
    gsl_rng_set(rng, (unsigned long)o->seed);
    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    if (hw->dtype != ST_F32 && hw->dtype != ST_F16 && hw->dtype != ST_BF16) {
        ah_fail(e, "generate: LM head '%s' is %s, not F32, F16 or BF16", hw->name,
                st_dtype_name(hw->dtype));
        goto done;
    }
    if (model_final_norm_f32(m, &fnorm, &fnorm_b, e)) goto done;
    int n = 0, T = n_prompt, n_lat = 0;   // positions in the cache; tokens fed next
    const int32_t *feed = prompt;
    int32_t last;
    double prefill_s = 0.0;
    // n + T = n_prompt + *n_out: as gen_run, generate while the sequence is shorter than P.
    while (*n_out < o->max_new && n + T < P) {
        double t0 = ah_now();
        // x (T, C): the new tokens through every block, their keys and values cached.
        fwd_embed_at(x, m, feed, n, T);
        for (int l = 0; l < c->n_layers; l++) fwd_block_kv(x, s, kv, l, blocks[l], c, n, T);
        float *xl = x + (size_t)(T - 1) * C;   // the last position's hidden state
        fwd_final_norm(xl, s, c, fnorm, fnorm_b, 1);
        packed_head_gemv(logits, xl, hw, V, C);
        int id = o->top_k > 1 ? sample_top_k(logits, V, o->top_k, o->temperature, rng, tmp)
                              : argmax(logits, V);
        double dt = ah_now() - t0;
        if (n == 0) prefill_s = dt;
        else lat[n_lat++] = dt;
        n += T;
        last = id;
        feed = &last;
        T = 1;
        out[(*n_out)++] = id;
        if ((cb && cb(ctx, id)) || id == o->stop_id) break;
    }
    if (st) {
        double sum = 0.0;
        for (int i = 0; i < n_lat; i++) sum += lat[i];
        *st = (gen_stats){.prefill_tokens = n_prompt, .prefill_s = prefill_s,
                          .decode_tokens = n_lat, .decode_s = sum, .kv_bytes = fwd_kv_bytes(kv)};
        if (n_lat) {
            st->latency_p90_ms = 1e3 * ah_quantile(lat, n_lat, 0.9);
            st->latency_median_ms = 1e3 * ah_quantile(lat, n_lat, 0.5);
        }
    }
    rc = 0;
done:
    gsl_rng_free(rng);
    ah_free(fnorm);
    ah_free(fnorm_b);
    free(lat);
    free(tmp);
    free(logits);
    ah_free(x);
    fwd_kv_free(kv);
    fwd_state_free(s);
    return rc;
}

int gen_run(const model *m, block_f32 *const *blocks, const int32_t *prompt, int n_prompt,
            const gen_opts *o, int32_t *out, int *n_out, gen_token_fn cb, void *ctx, ah_err *e) {
    const model_config *c = &m->cfg;
    int Tmax = n_prompt + o->max_new < c->max_seq ? n_prompt + o->max_new : c->max_seq;
    *n_out = 0;
    if (check_prompt(c, prompt, n_prompt, e)) return -1;
    int rc = -1, V = c->vocab_size, C = c->dim;
    fwd_state *s = fwd_state_new(c, Tmax, 1, e);
    int32_t *seq = malloc((size_t)Tmax * sizeof *seq);
    float *x = ah_calloc((size_t)Tmax * C, sizeof(float), "generation activations", e);
    float *logits = malloc((size_t)V * sizeof *logits);
    scored *tmp = malloc((size_t)V * sizeof *tmp);
    float *head = NULL, *fnorm = NULL, *fnorm_b = NULL;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!s || !seq || !x || !logits || !tmp || !rng) {
        if (!e || !e->msg[0]) ah_fail(e, "out of memory (generate)");
        goto done;
    }
    gsl_rng_set(rng, (unsigned long)o->seed);
    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    if (!(head = ah_calloc(model_weight_numel(hw), sizeof(float), "LM head", e)) ||
        model_weight_f32(head, hw, e) || model_final_norm_f32(m, &fnorm, &fnorm_b, e))
        goto done;
    memcpy(seq, prompt, (size_t)n_prompt * sizeof *seq);
    int n = n_prompt;
    while (*n_out < o->max_new && n < Tmax) {
        // x (n, C): the whole prefix through every block; logits of the last position.
        fwd_embed(x, m, seq, n);
        for (int l = 0; l < c->n_layers; l++) fwd_block(x, s, blocks[l], c, n, 1);
        fwd_logits(logits, x + (size_t)(n - 1) * C, s, c, head, fnorm, fnorm_b, 1, 1);
        int id = o->top_k > 1 ? sample_top_k(logits, V, o->top_k, o->temperature, rng, tmp)
                              : argmax(logits, V);
        seq[n++] = id;
        out[(*n_out)++] = id;
        if ((cb && cb(ctx, id)) || id == o->stop_id) break;
    }
    rc = 0;
done:
    gsl_rng_free(rng);
    ah_free(head);
    ah_free(fnorm);
    ah_free(fnorm_b);
    free(tmp);
    free(logits);
    ah_free(x);
    free(seq);
    fwd_state_free(s);
    return rc;
}
