// dataset.h — text sources for evaluation and calibration.
//
// A source spec is one of:
//   wikitext2:test | wikitext2:valid  the raw WikiText-2 split file (wiki.test.raw /
//                                     wiki.valid.raw) in `wikitext_dir`, rebuilt into the
//                                     HuggingFace rows (one line = one row, a line holding a
//                                     single space is the empty row "") and joined with "\n\n"
//                                     exactly as the GPTQ/AWQ evaluation code does;
//   text:FILE                         the whole file as one string;
//   jsonl:FILE                        the "text" field of every JSON line, joined with "\n\n".
// The result is validated as UTF-8 (an error names the file and byte offset otherwise) and
// must not be empty.
#ifndef AH_DATASET_H
#define AH_DATASET_H

#include <stddef.h>

#include "core/err.h"

// Default folder for wikitext2: sources when none is configured (relative to the repo root).
#define DS_DEFAULT_WIKITEXT_DIR "../shared/data/wikitext-2-raw"

// Loads the text for `spec`. wikitext_dir may be NULL (the default above, or the environment
// variable AH_WIKITEXT_DIR when set). *text is malloc'd and NUL-terminated; *len excludes NUL.
int ds_load_text(const char *spec, const char *wikitext_dir, char **text, size_t *len,
                 ah_err *e);

// The file `spec` names and its kind (the forms above): wikitext2 splits under wikitext_dir as
// ds_load_text finds them. -1 with e set for an unknown source, no file or a path over cap.
typedef enum { DS_WIKITEXT, DS_TEXT, DS_JSONL } ds_kind;
int ds_resolve(const char *spec, const char *wikitext_dir, char *path, size_t cap, ds_kind *kind,
               ah_err *e);

// JSON Lines: the next line of raw[0, len) from *i (0 at first) that is not blank (spaces, tabs
// and CRs only), as [*a, *b) without its leading blanks; *i moves past it and *line counts the
// lines passed (from 1, for messages). 0 when none is left.
int ds_jsonl_next(const char *raw, size_t len, size_t *i, size_t *line, size_t *a, size_t *b);

// A short stable name for a spec, for records ("wikitext2:test", "text:tinystories_val.txt").
const char *ds_spec_kind(const char *spec);

// 1 when the buffer is valid UTF-8; otherwise 0 and *bad_offset = first bad byte.
int ds_utf8_valid(const char *s, size_t len, size_t *bad_offset);

#endif
