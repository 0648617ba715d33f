// ppl_lmeval.c — lm-eval's rolling-window perplexity of documents (ppl_lmeval.h).
#include "eval/ppl_lmeval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "eval/lmeval.h"

void ppl_lmeval_result_free(ppl_lmeval_result *r) {
    if (!r) return;
    free(r->ll_per_doc);
    r->ll_per_doc = NULL;
}

int ppl_lmeval(ppl_lmeval_result *r, const model *m, const tok_tokenizer *tok, const ds_docs *d,
               int max_length, const ll_opts *o, ah_err *e) {
    memset(r, 0, sizeof *r);
    double t0 = ah_now();
    lme_ctx c;
    lme_set s = {0};
    ll_result *res = NULL;
    int rc = -1;
    if (max_length > m->cfg.max_seq)
        return ah_fail(e, "max_length %d is longer than the model allows (%d)", max_length,
                       m->cfg.max_seq);
    if (lme_ctx_init(&c, tok, max_length > 0 ? max_length : m->cfg.max_seq, e)) return -1;
    if (!(r->ll_per_doc = calloc(d->n ? d->n : 1, sizeof *r->ll_per_doc))) {
        ah_fail(e, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < d->n; i++) {
        size_t nt = 0;
        if (lme_add_rolling(&s, &c, d->text[i], strlen(d->text[i]), i, NULL, &nt, e)) {
            ah_wrap(e, "document %zu", i);
            goto out;
        }
        r->tokens += (long)nt;
        r->words += d->words[i];
        r->bytes += d->bytes[i];
    }
    const ll_request *req = lme_set_requests(&s, e);
    if (!req) goto out;
    if (!(res = calloc(s.count ? s.count : 1, sizeof *res))) {
        ah_fail(e, "out of memory");
        goto out;
    }
    if (ll_score(res, m, req, s.count, o, e)) goto out;
    for (size_t q = 0; q < s.count; q++) {
        r->ll_per_doc[s.owner[q]] += res[q].logprob;
        r->ll += res[q].logprob;
    }
    r->docs = d->n;
    r->windows = s.count;
    r->word_ppl = exp(-r->ll / (double)r->words);
    r->byte_ppl = exp(-r->ll / (double)r->bytes);
    r->bits_per_byte = -r->ll / (double)r->bytes / log(2.0);
    r->token_ppl = r->tokens ? exp(-r->ll / (double)r->tokens) : NAN;
    rc = 0;
out:
    r->seconds = ah_now() - t0;
    if (rc) ppl_lmeval_result_free(r);
    free(res);
    lme_set_free(&s);
    return rc;
}
