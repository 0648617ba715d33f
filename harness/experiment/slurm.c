// slurm.c — the batch scripts of `submit` and the shard bookkeeping (slurm.h).
#include "experiment/slurm.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "method/method.h"
#include "store/store.h"

const char *exp_slurm_job_name(exp_slurm_job j) {
    static const char *n[] = {"search", "join", "run", "merge"};
    return n[j];
}

// s as one shell word: in single quotes, each ' written as '\''.
static void put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

void exp_shard_path(char *buf, size_t cap, const char *output, int i, int n) {
    size_t len = strlen(output);
    if (len >= 3 && !strcmp(output + len - 3, ".h5")) len -= 3;
    snprintf(buf, cap, "%.*s.shard-%d-of-%d.h5", (int)len, output, i, n);
}

void exp_slurm_script(FILE *f, exp_slurm_job j, const exp_slurm_opts *o, const exp_config *c,
                      const char *tasks) {
    const char *jn = exp_slurm_job_name(j);
    int array = j == EXP_SLURM_SEARCH || j == EXP_SLURM_RUN;
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# awq-harness submit: the %s job of experiment %s (%s); docs/CLUSTER.md.\n", jn,
            c->name, o->ini);
    fprintf(f, "#SBATCH --job-name=ah-%s-%s\n", c->name, jn);
    if (array) fprintf(f, "#SBATCH --array=%s\n", tasks);
    fprintf(f, "#SBATCH --output=%s/logs/%s-%s\n", o->dir, jn, array ? "%A_%a.out" : "%j.out");
    fprintf(f, "#SBATCH --chdir=%s\n", o->workdir);
    fprintf(f, "#SBATCH --ntasks=1\n");
    if (o->cpus_per_task > 0) fprintf(f, "#SBATCH --cpus-per-task=%d\n", o->cpus_per_task);
    if (o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    if (o->time) fprintf(f, "#SBATCH --time=%s\n", o->time);
    if (o->mem) fprintf(f, "#SBATCH --mem=%s\n", o->mem);
    if (o->account) fprintf(f, "#SBATCH --account=%s\n", o->account);
    for (int i = 0; i < o->n_extra; i++) fprintf(f, "#SBATCH %s\n", o->extra[i]);
    fprintf(f, "set -u\n");
    fprintf(f, "ah=");
    put_quoted(f, o->exe);
    fprintf(f, "\nini=");
    put_quoted(f, o->ini);
    // Threads: the CPUs Slurm gave the task (none asked: the harness's own default).
    fprintf(f, "\nthreads=()\n"
               "if [ -n \"${SLURM_CPUS_PER_TASK:-}\" ]; then threads=(--threads \"$SLURM_CPUS_PER_TASK\"); fi\n");
    switch (j) {
    case EXP_SLURM_SEARCH:
        fprintf(f, "exec \"$ah\" search \"$ini\" --part \"$SLURM_ARRAY_TASK_ID/%d\" \"${threads[@]}\"\n",
                o->split_search);
        break;
    case EXP_SLURM_JOIN:
        fprintf(f, "exec \"$ah\" search \"$ini\" --join\n");
        break;
    case EXP_SLURM_RUN:
        fprintf(f, "exec \"$ah\" run \"$ini\" --shard \"$SLURM_ARRAY_TASK_ID/%d\" \"${threads[@]}\"\n",
                o->nodes);
        break;
    case EXP_SLURM_MERGE: {
        // Runs after the run array whatever became of it: merges the shard files that exist
        // (a cancelled task leaves its completed runs), then says what is still missing.
        char p[EXP_PATH_MAX + 64];
        fprintf(f, "out=");
        put_quoted(f, c->output);
        fprintf(f, "\nshards=()\n");
        for (int i = 0; i < o->nodes; i++) {
            exp_shard_path(p, sizeof p, c->output, i, o->nodes);
            fprintf(f, "[ -f ");
            put_quoted(f, p);
            fprintf(f, " ] && shards+=(");
            put_quoted(f, p);
            fprintf(f, ")\n");
        }
        fprintf(f, "if [ ${#shards[@]} -gt 0 ]; then \"$ah\" merge \"$out\" \"${shards[@]}\" || exit 1; fi\n");
        fprintf(f, "exec \"$ah\" submit \"$ini\" --nodes %d --check\n", o->nodes);
        break;
    }
    }
}

// ---- shard bookkeeping ----------------------------------------------------------------------

// Run ids of results file path, sorted (strcmp); none when the file does not exist.
static int read_ids(const char *path, store_summary *s, ah_err *e) {
    memset(s, 0, sizeof *s);
    if (access(path, F_OK) != 0) return 0;
    return store_summary_read(path, s, e);
}

static int has_id(const store_summary *s, const char *id) {
    int lo = 0, hi = s->n - 1;   // /summary is sorted by id
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(s->rows[mid].id, id);
        if (c == 0) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

int exp_shard_state_read(exp_shard_state *st, const exp_config *c, const exp_plan *plan, int n,
                         FILE *missing_out, ah_err *e) {
    memset(st, 0, sizeof *st);
    st->n = n;
    st->runs = plan->n;
    st->todo = calloc((size_t)n, sizeof *st->todo);
    st->unmerged = calloc((size_t)n, sizeof *st->unmerged);
    if (!st->todo || !st->unmerged) return ah_fail(e, "out of memory");
    store_summary out, *sh = calloc((size_t)n, sizeof *sh);
    if (!sh) return ah_fail(e, "out of memory");
    int rc = read_ids(c->output, &out, e);
    for (int i = 0; rc == 0 && i < n; i++) {
        char p[EXP_PATH_MAX + 64];
        exp_shard_path(p, sizeof p, c->output, i, n);
        rc = read_ids(p, &sh[i], e);
    }
    for (int r = 0; rc == 0 && r < plan->n; r++) {
        const char *id = plan->runs[r].id;
        int i = plan->runs[r].index % n;   // the shard that runs it (exp_plan_shard)
        int in_out = has_id(&out, id), in_shard = has_id(&sh[i], id);
        if (!in_out && !in_shard) {
            st->todo[i]++;
            st->missing++;
            st->missing_awq += method_uses_awq(plan->runs[r].mc.kind);
            if (missing_out) fprintf(missing_out, "  %-40s shard %d/%d\n", id, i, n);
        } else if (!in_out) {
            st->unmerged[i]++;
        }
    }
    store_summary_free(&out);
    for (int i = 0; i < n; i++) store_summary_free(&sh[i]);
    free(sh);
    return rc;
}

void exp_shard_state_free(exp_shard_state *st) {
    free(st->todo);
    free(st->unmerged);
    st->todo = st->unmerged = NULL;
}
