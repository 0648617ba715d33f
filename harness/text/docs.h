// docs.h — a text source as documents, for lm-eval's perplexity protocol (eval/ppl_lmeval.h).
//
//   wikitext2:test | wikitext2:valid   the raw WikiText-2 file cut into articles as the builder
//       of EleutherAI/wikitext_document_level (lm-eval's wikitext task) does: the file split at
//       "\n"; a line that, after "= = =" -> "===" and "= =" -> "==" and strip(), starts with
//       "= " and ends with " =" (a top-level heading) starts a new page; a page is its lines
//       joined with "\n", kept when not blank; the last page always. Each page is then
//       detokenized as lm-eval's wikitext task does (pyt_wikitext_detok); words and bytes
//       count the raw page.
//   jsonl:FILE   one document per line: its "page" field (detokenized, as above) or else its
//       "text" field (as it is);
//   text:FILE    the whole file, one document.
#ifndef AH_DOCS_H
#define AH_DOCS_H

#include <stddef.h>

#include "core/err.h"

typedef struct {
    char **text;    // [n] what the model scores (detokenized pages)
    long *words;    // [n] len(re.split(r"\s+", raw)) of the raw document
    long *bytes;    // [n] UTF-8 bytes of the raw document
    size_t n;
} ds_docs;

int ds_load_docs(ds_docs *d, const char *spec, const char *wikitext_dir, ah_err *e);
void ds_docs_free(ds_docs *d);   // NULL-safe

#endif
