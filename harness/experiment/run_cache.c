// run_cache.c — runs that need no work (run_cache.h).
#include "experiment/run_cache.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/mem.h"
#include "experiment/keys.h"
#include "experiment/record.h"

int exp_run_cache_dirs(const exp_config *c, const char *output, int quiet, ah_err *e) {
    char dir[EXP_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s", output);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (ah_make_dirs(dir, e)) return -1;
    }
    snprintf(dir, sizeof dir, "%s/runs", c->cache_dir);
    if (ah_make_dirs(dir, e)) return -1;
    snprintf(dir, sizeof dir, "%s/awq", c->cache_dir);
    if (ah_make_dirs(dir, e)) return -1;
    // Temporaries of killed runs (the results file's own are removed by store_open, under its
    // lock; the caches may be shared by live processes, whose files stay).
    int stale = store_clean_stale(dir);
    snprintf(dir, sizeof dir, "%s/runs", c->cache_dir);
    stale += store_clean_stale(dir);
    if (stale && !quiet)
        fprintf(stderr, "removed %d temporary files of killed runs from %s\n", stale, c->cache_dir);
    return 0;
}

// Whether the record of run r at path (run group id; NULL: a run cache file) has what this
// build records: a quantized run recorded before the KL divergence existed lacks kld_mean and
// is computed again. Its key and id stay the same: KLD is a metric, not a parameter.
static int record_current(const exp_config *c, const exp_run *r, const char *path,
                          const char *id, int quiet) {
    if (!c->kld || r->mc.kind == METHOD_FP16) return 1;
    double v;
    ah_err ignore;
    if (store_run_attr_real_get(path, id, "", "kld_mean", &v, &ignore) == 0) return 1;
    if (!quiet)
        fprintf(stderr, "note: %s: %s was recorded without the KL divergence; computing it "
                        "again\n", path, r->id);
    return 0;
}

// A run cache entry is named after its key, but the name proves nothing: an entry copied or
// renamed under another key would commit another run's results under this run's id. Trusted
// only when the key stored inside it is the one asked for; otherwise a warning names the file
// and the run is computed again (its new entry replaces the wrong one).
static int cache_entry_trusted(const char *path, const char *key) {
    char stored[STORE_STR_CAP] = "";
    ah_err e = {{0}};
    if (store_run_attr_str_get(path, NULL, "", "key", stored, sizeof stored, &e)) {
        fprintf(stderr, "warning: %s; a run cache entry without a readable key: computing the "
                        "run again\n", e.msg);   // (e.msg starts with the file)
        return 0;
    }
    if (strcmp(stored, key) == 0) return 1;
    fprintf(stderr, "warning: %s: run cache entry holds key %.12s..., not %.12s... (copied under "
                    "another name?); computing the run again\n", path, stored, key);
    return 0;
}

void exp_run_key(const exp_config *c, const exp_run *r, const exp_inputs *s, char hex[65]) {
    char canon[512], buf[2048];
    exp_method_canonical(&r->mc, canon, sizeof canon);
    int calibrated = r->mc.kind != METHOD_FP16 && s->cs.n > 0;
    int n = snprintf(buf, sizeof buf, "run v2|model=%s|eval=%s|seqlen=%d|protocol=%s|max_windows=%d|"
                     "calib=%s|layers=%d|%s", s->model_hash, s->eval_hash, s->seqlen,
                     ppl_protocol_name(c->protocol), c->max_windows,
                     calibrated ? s->calib_hash : "-", c->record_layers && r->mc.kind != METHOD_FP16,
                     canon);
    // Zero-shot tasks join the key only when set, so the keys of runs without them stay.
    if (c->tasks[0] && n > 0 && (size_t)n < sizeof buf)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "|tasks=%s", s->tasks_hash);
    // So do the efficiency measurement's lengths: a cached run then carries its numbers.
    if (c->efficiency && n > 0 && (size_t)n < sizeof buf)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "|eff=pp%d,tg%d,reps%d", c->eff_prompt,
                      c->eff_decode, c->eff_reps);
    ah_sha256_hex(buf, (size_t)n, hex);
}

void exp_run_awq_key(const exp_run *r, const exp_inputs *s, char hex[65]) {
    if (method_uses_awq(r->mc.kind)) exp_awq_key(&r->mc, s->model_hash, s->calib_hash, hex);
    else snprintf(hex, 65, "-");
}

int exp_run_resumable(const exp_config *c, const exp_run *r, store *st, const char *output,
                      const char *key, int quiet) {
    return store_has_run(st, r->id, key) && record_current(c, r, output, r->id, quiet) &&
           (!c->n_exports || exp_export_recorded(c, output, r->id));
}

int exp_run_cache_usable(const exp_config *c, const exp_run *r, const char *run_path,
                         const char *key, int quiet) {
    return access(run_path, R_OK) == 0 && cache_entry_trusted(run_path, key) &&
           record_current(c, r, run_path, NULL, quiet);
}

int exp_run_commit_cached(store *st, const exp_config *c, const exp_run *r, const exp_inputs *s,
                          const char *key, const char *run_path, exp_run_exports *x, ah_err *e) {
    // The entry holds the names the computing experiment gave its model and data (the
    // content is the same: the key hashes it); this record gets this experiment's.
    // Entries written before issue 19 lack weights_dtype and calib_eval_overlap.
    int calibrated = r->mc.kind != METHOD_FP16 && s->cs.n > 0;
    store_attr_set set[] = {
        {"experiment", c->name, 0}, {"model", c->model_path, 0},
        {"model_name", c->model_name, 0}, {"eval_data", c->eval_data, 0},
        {"weights_dtype", exp_weights_dtype(s->m), 0},
        {"calib", c->calib, 0}, {"calib_eval_overlap", NULL, s->cs_overlap},
    };
    // Its exports: found complete, or written from a new quantization pass.
    if (x->overlay && exp_run_export_uncomputed(c, r, s, key, x, e)) return -1;
    return exp_run_commit(st, r->id, run_path, set, calibrated ? 7 : 5, x, e);
}

void exp_run_committed_outcome(const char *output, const char *id, exp_run_outcome *out) {
    ah_err ignore;
    if (store_run_attr_real_get(output, id, "", "ppl", &out->ppl, &ignore)) out->ppl = NAN;
    if (store_run_attr_real_get(output, id, "", "kld_mean", &out->kld, &ignore)) out->kld = NAN;
    if (store_run_attr_real_get(output, id, "", "seconds", &out->seconds, &ignore)) out->seconds = 0;
}
