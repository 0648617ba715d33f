// lmeval.h — lm-evaluation-harness's requests, token for token (lm_eval 0.4.13, HFLM).
//
// Two kinds of request become ll_request spans (loglik.h):
//   loglikelihood(context, continuation)   lm_eval/api/model.py `loglikelihood` and
//       `_encode_pair`: trailing whitespace of the context moves to the continuation; the
//       tokenizer encodes context + continuation whole and the context alone (each with the
//       tokenizer's default special tokens, i.e. BOS where it adds one, unless the text already
//       starts with the prefix token's text); the continuation is the whole's tokens after
//       the context's count. An empty context is the prefix token (BOS, else EOS), the
//       continuation encoded bare. The model reads (context + continuation)[-(L+1):][:-1]
//       and the continuation's tokens are scored (L = the model's max_position_embeddings).
//   loglikelihood_rolling(text)   models/huggingface.py: the text's tokens (default special
//       tokens) cut by utils.get_rolling_token_windows(prefix_token, L, context_len = 1) and
//       make_disjoint_window: the first window reads the prefix token then tokens[0 : L-1]
//       and scores tokens[0 : L]; each later window scores the next min(rest, L) tokens with
//       the L tokens before each as context. The document's log-likelihood is their sum.
// The requests of a set share one token arena; lme_set_requests hands out ll_request views.
#ifndef AH_LMEVAL_H
#define AH_LMEVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "eval/loglik.h"
#include "text/tokenizer.h"

typedef struct {
    int32_t *tok;            // arena of every request's seq
    size_t ntok, tok_cap;
    size_t *start;           // [count] offset of request i's seq in tok
    int *n, *k;              // [count] tokens read, tokens scored
    size_t *owner;           // [count] the caller's item (document) each request belongs to
    size_t count, cap;
    ll_request *view;        // filled by lme_set_requests
} lme_set;

typedef struct {
    const tok_tokenizer *tok;
    int max_length;          // L: lm-eval's max_length (the model's max_position_embeddings)
    int prefix_id;           // BOS when the tokenizer has one, else EOS
} lme_ctx;

// Fills c from the tokenizer and the model's context; an error when neither BOS nor EOS is known.
int lme_ctx_init(lme_ctx *c, const tok_tokenizer *tok, int max_length, ah_err *e);

// Appends the request of loglikelihood(context, continuation) (len-delimited UTF-8 strings).
int lme_add_pair(lme_set *s, const lme_ctx *c, const char *ctx, size_t ctx_len,
                 const char *cont, size_t cont_len, size_t owner, ah_err *e);
// Appends the windows of loglikelihood_rolling(text); *windows (may be NULL) gets their count.
int lme_add_rolling(lme_set *s, const lme_ctx *c, const char *text, size_t len, size_t owner,
                    size_t *windows, size_t *tokens, ah_err *e);

// The same from the text's tokens (tests).
int lme_add_rolling_tokens(lme_set *s, const lme_ctx *c, const int32_t *t, size_t nt,
                           size_t owner, size_t *windows, ah_err *e);

// The requests as ll_request (s->view, valid until the set changes).
const ll_request *lme_set_requests(lme_set *s, ah_err *e);
void lme_set_free(lme_set *s);   // NULL-safe; leaves s empty

#endif
