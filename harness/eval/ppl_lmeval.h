// ppl_lmeval.h — lm-eval's perplexity protocol (`protocol = lmeval`): loglikelihood_rolling of
// whole documents (lmeval.h: windows of the model's context L, each later window with the L
// tokens before it as context, the first conditioned on the prefix token) summed over the
// documents, reported as lm-eval's wikitext task reports it:
//   word_perplexity = exp(-sum ll / words), byte_perplexity = exp(-sum ll / bytes),
//   bits_per_byte = -sum ll / bytes / ln 2   (words and bytes of the raw documents, docs.h);
// and, so that a reader can compare with the token protocols, the token perplexity
// exp(-sum ll / tokens) over every scored token.
#ifndef AH_PPL_LMEVAL_H
#define AH_PPL_LMEVAL_H

#include "eval/loglik.h"
#include "text/docs.h"
#include "text/tokenizer.h"

typedef struct {
    double word_ppl, byte_ppl, bits_per_byte, token_ppl;
    double ll;                 // sum of the documents' log-likelihoods (nats)
    long words, bytes, tokens; // tokens = scored tokens = the documents' tokens
    size_t docs, windows;
    double *ll_per_doc;        // [docs] (malloc'd)
    double seconds;
} ppl_lmeval_result;

// max_length: lm-eval's max_length (its model_args max_length=N); 0 = the model's context.
int ppl_lmeval(ppl_lmeval_result *r, const model *m, const tok_tokenizer *tok, const ds_docs *d,
               int max_length, const ll_opts *o, ah_err *e);
void ppl_lmeval_result_free(ppl_lmeval_result *r);   // NULL-safe

#endif
