// slurm.h — an experiment as Slurm batch jobs (docs/CLUSTER.md): the scripts `submit` writes,
// and which shards of a sweep still have runs to do.
//
// Jobs, each depending on the one before (sbatch --dependency):
//   search  array of K tasks: part i of every AWQ search (`search --part i/K`)   [--split-search]
//   join    one task: the parts joined into the AWQ cache entries (`search --join`)
//   run     array of tasks, task i = shard i/N of the sweep (`run --shard i/N`)
//   merge   one task, after the run array whatever its outcome: the shard files merged into
//           the experiment's results file (`merge`), then `submit --check`, which fails and
//           names the runs still missing (a cancelled task) so that a resubmission does them.
// Nothing is computed twice: a task skips what its results file (or the AWQ cache) holds, and
// submit leaves out the shards whose runs are all recorded.
#ifndef AH_EXP_SLURM_H
#define AH_EXP_SLURM_H

#include <stdio.h>

#include "experiment/config.h"
#include "experiment/sweep.h"

typedef struct {
    int nodes;                 // N: run tasks, one shard each
    int split_search;          // K > 0: the AWQ searches split into K block ranges first
    const char *partition, *time, *mem, *account;   // NULL: the site's default
    int cpus_per_task;         // 0: the site's default (the tasks then use every core)
    const char *const *extra;  // [n_extra] more sbatch options, one #SBATCH line each
    int n_extra;
    const char *exe;           // absolute path of awq-harness
    const char *ini;           // absolute path of the experiment
    const char *workdir;       // absolute: where submit ran (relative INI paths resolve there)
    const char *dir;           // where the scripts and logs/ go
} exp_slurm_opts;

typedef enum { EXP_SLURM_SEARCH, EXP_SLURM_JOIN, EXP_SLURM_RUN, EXP_SLURM_MERGE } exp_slurm_job;

const char *exp_slurm_job_name(exp_slurm_job j);   // "search", "join", "run", "merge"

// Writes job j's batch script to f. tasks: its array indices ("0-2", "1,4"; NULL for join and
// merge).
void exp_slurm_script(FILE *f, exp_slurm_job j, const exp_slurm_opts *o, const exp_config *c,
                      const char *tasks);

// The results file of shard i of n: <output without .h5>.shard-i-of-n.h5 (what `run --shard`
// writes by default).
void exp_shard_path(char *buf, size_t cap, const char *output, int i, int n);

// Which runs of plan are recorded, by run id, in the experiment's results file or in their
// shard's file (a results file that does not exist holds none).
typedef struct {
    int n;            // shards
    int *todo;        // [n] runs of shard i in neither file
    int *unmerged;    // [n] runs of shard i in its shard file but not in the results file
    int runs, missing;   // all planned runs; those in no file
    int missing_awq;     // of those, runs that need an AWQ search (a split search helps them)
} exp_shard_state;

// If missing_out is given, each run in no file is listed there, one line each.
int exp_shard_state_read(exp_shard_state *st, const exp_config *c, const exp_plan *plan, int n,
                         FILE *missing_out, ah_err *e);
void exp_shard_state_free(exp_shard_state *st);

#endif
