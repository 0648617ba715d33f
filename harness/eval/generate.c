// generate.c — greedy and top-k generation over resident fp32 blocks (generate.h).
#include "eval/generate.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "model/forward.h"

// Index of the largest logit (ties: the lowest id, as torch.argmax).
static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

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

int gen_run(const model *m, block_f32 *const *blocks, const int32_t *prompt, int n_prompt,
            const gen_opts *o, int32_t *out, int *n_out, gen_token_fn cb, void *ctx, ah_err *e) {
    const model_config *c = &m->cfg;
    int Tmax = n_prompt + o->max_new < c->max_seq ? n_prompt + o->max_new : c->max_seq;
    *n_out = 0;
    if (n_prompt < 1) return ah_fail(e, "generate: the prompt has no tokens");
    if (n_prompt >= c->max_seq)
        return ah_fail(e, "generate: the prompt (%d tokens) fills the model's context (%d)", n_prompt,
                       c->max_seq);
    for (int i = 0; i < n_prompt; i++)   // embedding rows are indexed unchecked
        if (prompt[i] < 0 || prompt[i] >= c->vocab_size)
            return ah_fail(e, "generate: prompt token id %d at position %d is outside the model's "
                           "vocabulary (%d): tokenizer and model do not match", prompt[i], i,
                           c->vocab_size);
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
        model_weight_f32(head, hw, e) ||
        !(fnorm = ah_calloc((size_t)C, sizeof(float), "final norm", e)) ||
        model_weight_f32(fnorm, &m->global[G_FINAL_NORM], e))
        goto done;
    if (m->global[G_FINAL_NORM_B].data &&
        (!(fnorm_b = ah_calloc((size_t)C, sizeof(float), "final norm", e)) ||
         model_weight_f32(fnorm_b, &m->global[G_FINAL_NORM_B], e)))
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
