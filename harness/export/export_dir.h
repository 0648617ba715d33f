// export_dir.h — an export directory (export/export.h) is written and replaced as one unit.
//
// `quantize --out D` writes every file into the sibling D.tmp.<pid>, fsyncs them, writes
// manifest.json last (with "export_format": 2 and "files": {name: bytes} for every other file),
// then swaps the directory in place of D (renameat2 RENAME_EXCHANGE; the old export then lies
// at D.tmp.<pid> and is removed). A kill at any moment leaves D the complete old export or the
// complete new one, never a mix. Temporaries of killed processes (D.tmp.<pid>, D.old.<pid>
// whose pid is gone) are removed by the next quantize to D. A directory is replaced only when
// it holds nothing but export files: the files of a user's directory are never deleted.
// Readers (model_load) refuse a directory that holds an export without a complete manifest.
#ifndef AH_EXPORT_DIR_H
#define AH_EXPORT_DIR_H

#include <stddef.h>

#include "core/err.h"

// The source's non-weight files a loader needs beside the weights (copied into an export of a
// HuggingFace checkpoint); NULL-terminated.
extern const char *const QEXPORT_SIDE_FILES[];

// 0 when out may be replaced by an export: absent, or a directory (or a link to one) holding
// export files only. Cheap: run before the work so a wrong --out fails at once.
int qexport_dir_check_target(const char *out, ah_err *e);

// Removes the temporaries of killed quantize runs beside out, then creates the directory
// out.tmp.<pid> and puts its path in tmp (cap bytes).
int qexport_dir_begin(const char *out, char *tmp, size_t cap, ah_err *e);

// Writes tmp/manifest.json: manifest_json (a JSON object) with "export_format" and "files"
// (the byte size of every file already in tmp) added.
int qexport_dir_manifest(const char *tmp, const char *manifest_json, ah_err *e);

// fsyncs the files of tmp and tmp itself, puts tmp in place of out (atomically when out
// exists) and removes the old export.
int qexport_dir_commit(const char *tmp, const char *out, ah_err *e);

// Removes tmp after a failed write (NULL or "" ignored).
void qexport_dir_abort(const char *tmp);

// For readers: 0 when model_path (a directory, or a file whose directory is checked) is not an
// export, or is one whose manifest.json parses and lists every export file present at its
// size. Exports from before export_format 2 (no "files") are accepted as they are.
int qexport_dir_verify(const char *model_path, ah_err *e);

// The bytes export directory dir holds on disk, from its manifest: every file "files" lists
// plus manifest.json itself. -1 when there is no manifest with "files" (not an export of
// export_format 2). Sizes as written; qexport_dir_verify checks they still hold.
long long qexport_dir_bytes(const char *dir);

#endif
