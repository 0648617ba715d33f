// cmd_submit.c — `awq-harness submit X.ini --nodes N`: the experiment as Slurm jobs (a job
// array of shards, then a merge job; optionally an AWQ search split across tasks first),
// written as batch scripts and handed to sbatch (experiment/slurm.h, docs/CLUSTER.md).
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "experiment/slurm.h"

static void submit_usage(FILE *f) {
    fprintf(f,
            "usage: awq-harness submit EXPERIMENT.ini --nodes N [options]\n"
            "\n"
            "  --nodes N           run the sweep as a Slurm job array of N tasks (shard i/N each)\n"
            "                      and a merge job into the experiment's results file\n"
            "  --split-search K    first split every AWQ search into K block ranges, one task\n"
            "                      each (needs propagate = fp), then join them (one job)\n"
            "  --partition P, --time T, --mem M, --cpus-per-task C, --account A\n"
            "                      the usual sbatch settings, for every job\n"
            "  --sbatch-arg ARG    any other sbatch option (repeatable), e.g. --sbatch-arg=--qos=low\n"
            "  --dir D             where the scripts and logs/ go (default:\n"
            "                      <results dir>/slurm/<experiment>)\n"
            "  --all               submit every shard, even those whose runs are all recorded\n"
            "  --dry-run           print the scripts and the sbatch commands; submit nothing\n"
            "  --check             say which runs are not yet in the results file (exit 1 if any)\n"
            "\n"
            "Resubmitting the same command after a failed or cancelled task submits only the\n"
            "shards with runs in no results file; each task skips the runs its file holds.\n");
}

// mkdir -p
static int make_dirs(const char *path) {
    char tmp[3 * PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(tmp, 0777) && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

// Runs argv (sbatch --parsable ...) and reads the job id it prints ("123" or "123;cluster");
// on failure, msg holds the first line sbatch wrote to stderr (its reason).
static int run_sbatch(char *const *argv, char *id, size_t cap, char *msg, size_t msg_cap) {
    int out[2], err[2];
    msg[0] = '\0';
    if (pipe(out)) return -1;
    if (pipe(err)) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    // (sbatch writes a line or two: the pipes' buffers hold them while the other is read)
    size_t n = 0, m = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(out[0], id + n, cap - 1 - n)) > 0) n += (size_t)k;
    while (m + 1 < msg_cap && (k = read(err[0], msg + m, msg_cap - 1 - m)) > 0) m += (size_t)k;
    close(out[0]);
    close(err[0]);
    id[n] = '\0';
    msg[m] = '\0';
    msg[strcspn(msg, "\n")] = '\0';
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    id[strcspn(id, ";\n")] = '\0';
    if (!id[0]) snprintf(msg, msg_cap, "it printed no job id");
    return id[0] ? 0 : -1;
}

// "0-2" or "1,4,5": the indices i with want[i]. Returns the length it needed (>= cap: cut).
static size_t task_list(char *buf, size_t cap, const int *want, int n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!want[i]) continue;
        int j = i;
        while (j + 1 < n && want[j + 1]) j++;
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%d", len ? "," : "", i);
        if (j > i) len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "-%d", j);
        i = j;
    }
    return len;
}

typedef struct {
    exp_slurm_job job;
    char path[3 * PATH_MAX + 32];
    char *text;
    size_t len;
    char id[64];
} job_script;

int cmd_submit(int argc, char **argv) {
    static const struct option opts[] = {
        {"nodes", required_argument, 0, 'N'},   {"split-search", required_argument, 0, 'K'},
        {"partition", required_argument, 0, 'p'}, {"time", required_argument, 0, 't'},
        {"mem", required_argument, 0, 'm'},     {"cpus-per-task", required_argument, 0, 'c'},
        {"account", required_argument, 0, 'A'}, {"sbatch-arg", required_argument, 0, 'x'},
        {"dir", required_argument, 0, 'd'},     {"all", no_argument, 0, 'a'},
        {"dry-run", no_argument, 0, 'n'},       {"check", no_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    exp_slurm_opts so = {0};
    const char *extra[64], *dir_opt = NULL;
    int all = 0, dry = 0, check = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'N': if (cli_int("--nodes", optarg, 1, 100000, &so.nodes)) return 2; break;
        case 'K': if (cli_int("--split-search", optarg, 1, 100000, &so.split_search)) return 2; break;
        case 'p': so.partition = optarg; break;
        case 't': so.time = optarg; break;
        case 'm': so.mem = optarg; break;
        case 'c': if (cli_int("--cpus-per-task", optarg, 1, 4096, &so.cpus_per_task)) return 2; break;
        case 'A': so.account = optarg; break;
        case 'x':
            if (so.n_extra == 64 || strchr(optarg, '\n')) {
                cli_error("--sbatch-arg: at most 64, each on one line");
                return 2;
            }
            extra[so.n_extra++] = optarg;
            break;
        case 'd': dir_opt = optarg; break;
        case 'a': all = 1; break;
        case 'n': dry = 1; break;
        case 'C': check = 1; break;
        case 'h': submit_usage(stdout); return 0;
        default: submit_usage(stderr); return 2;
        }
    }
    so.extra = extra;
    if (optind != argc - 1 || so.nodes < 1) {
        cli_error("submit: expected one experiment file and --nodes N (see 'awq-harness submit --help')");
        return 2;
    }
    const char *settings[] = {so.partition, so.time, so.mem, so.account};
    for (int i = 0; i < 4; i++)
        if (settings[i] && strchr(settings[i], '\n')) {   // one #SBATCH line each
            cli_error("submit: a Slurm setting holds a newline (each is one #SBATCH line)");
            return 2;
        }
    ah_err e = {{0}};
    exp_config cfg;
    exp_plan plan = {0};
    if (exp_config_load(&cfg, argv[optind], &e)) {
        cli_error("%s", e.msg);
        return 2;
    }
    if (so.split_search && cfg.n_exports) {   // the search jobs would refuse it (split_search.c)
        cli_error("submit: %s: --split-search does not take an experiment with [export] yet; "
                  "submit it without (the shards search)", cfg.source);
        exp_config_free(&cfg);
        return 2;
    }
    int status = 1;
    exp_shard_state st = {0};
    job_script js[4];
    int n_js = 0, *want = NULL;
    memset(js, 0, sizeof js);
    if (exp_plan_build(&plan, &cfg, &e)) {
        cli_error("%s", e.msg);
        status = 2;
        goto done;
    }
    if (so.nodes > plan.n) {
        cli_error("submit: --nodes %d is more than the %d planned runs of %s", so.nodes, plan.n,
                  cfg.source);
        status = 2;
        goto done;
    }
    if (check) {
        if (exp_shard_state_read(&st, &cfg, &plan, so.nodes, NULL, &e)) goto fail;
        int in_out = st.runs - st.missing;
        for (int i = 0; i < st.n; i++) in_out -= st.unmerged[i];
        printf("%s: %d of %d runs in %s\n", cfg.name, in_out, st.runs, cfg.output);
        if (in_out < st.runs) {
            printf("not yet there (resubmit the same `awq-harness submit` command):\n");
            exp_shard_state_free(&st);
            if (exp_shard_state_read(&st, &cfg, &plan, so.nodes, stdout, &e)) goto fail;
        }
        status = in_out == st.runs ? 0 : 1;
        goto done;
    }
    if (exp_shard_state_read(&st, &cfg, &plan, so.nodes, NULL, &e)) goto fail;
    int n_want = 0, n_unmerged = 0;
    if (!(want = calloc((size_t)so.nodes, sizeof *want))) {
        cli_error("submit: out of memory");
        goto done;
    }
    for (int i = 0; i < so.nodes; i++) {
        want[i] = all || st.todo[i] > 0;
        n_want += want[i];
        n_unmerged += st.unmerged[i];
    }
    printf("%s: %d planned runs, %d in no results file", cfg.name, st.runs, st.missing);
    if (n_unmerged) printf(", %d in shard files not yet merged", n_unmerged);
    printf("\n");
    if (!n_want && !n_unmerged) {
        printf("every run is in %s: nothing to submit\n", cfg.output);
        status = 0;
        goto done;
    }

    // Absolute paths: the jobs run wherever Slurm starts them.
    char exe[PATH_MAX], ini[PATH_MAX], cwd[PATH_MAX], dir[3 * PATH_MAX], tasks[4096],
        logs[3 * PATH_MAX + 8];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0 || !realpath(argv[optind], ini) || !getcwd(cwd, sizeof cwd)) {
        cli_error("submit: cannot resolve the paths of awq-harness and %s: %s", argv[optind],
                  strerror(errno));
        goto done;
    }
    exe[k] = '\0';
    if (dir_opt) {
        snprintf(dir, sizeof dir, "%s%s%s", dir_opt[0] == '/' ? "" : cwd,
                 dir_opt[0] == '/' ? "" : "/", dir_opt);
    } else {
        char od[PATH_MAX];
        snprintf(od, sizeof od, "%s", cfg.output);
        char *sl = strrchr(od, '/');
        if (sl) *sl = '\0';
        else snprintf(od, sizeof od, ".");
        snprintf(dir, sizeof dir, "%s%s%s/slurm/%s", od[0] == '/' ? "" : cwd,
                 od[0] == '/' ? "" : "/", od, cfg.name);
    }
    so.exe = exe;
    so.ini = ini;
    so.workdir = cwd;
    so.dir = dir;

    // The scripts, in dependency order.
    exp_slurm_job order[4];
    int n_order = 0;
    // (the runs left to do may need no search: then there is nothing to split)
    if (so.split_search && n_want && st.missing_awq) {
        order[n_order++] = EXP_SLURM_SEARCH;
        order[n_order++] = EXP_SLURM_JOIN;
    }
    if (n_want) order[n_order++] = EXP_SLURM_RUN;
    order[n_order++] = EXP_SLURM_MERGE;
    for (int j = 0; j < n_order; j++) {
        job_script *s = &js[n_js++];
        s->job = order[j];
        snprintf(s->path, sizeof s->path, "%s/%s.sbatch", dir, exp_slurm_job_name(s->job));
        FILE *f = open_memstream(&s->text, &s->len);
        if (!f) {
            cli_error("submit: out of memory");
            goto done;
        }
        if (s->job == EXP_SLURM_SEARCH) snprintf(tasks, sizeof tasks, "0-%d", so.split_search - 1);
        else if (task_list(tasks, sizeof tasks, want, so.nodes) >= sizeof tasks) {
            cli_error("submit: the array of unfinished shards is longer than %zu characters; "
                      "use --all", sizeof tasks - 1);
            goto done;
        }
        exp_slurm_script(f, s->job, &so, &cfg, tasks);
        fclose(f);
    }
    if (!dry) {
        snprintf(logs, sizeof logs, "%s/logs", dir);
        if (make_dirs(logs)) {
            cli_error("submit: %s: cannot create: %s", logs, strerror(errno));
            goto done;
        }
    }
    for (int j = 0; j < n_js; j++) {
        job_script *s = &js[j];
        char dep[128] = "";
        // The merge runs whatever became of the run tasks (afterany) and reports what is
        // missing; every other job needs the one before it to succeed. A job whose dependency
        // can never be met is cancelled instead of pending forever.
        if (j > 0)
            snprintf(dep, sizeof dep, "--dependency=%s:%s", s->job == EXP_SLURM_MERGE ? "afterany" : "afterok",
                     dry ? "<previous job>" : js[j - 1].id);
        if (dry) {
            printf("\n== %s\n%s", s->path, s->text);
            printf("== sbatch --parsable%s%s%s %s\n", dep[0] ? " " : "", dep,
                   dep[0] ? " --kill-on-invalid-dep=yes" : "", s->path);
            continue;
        }
        FILE *f = fopen(s->path, "w");
        if (!f || fwrite(s->text, 1, s->len, f) != s->len || fclose(f)) {
            cli_error("submit: %s: cannot write: %s", s->path, strerror(errno));
            goto done;
        }
        char *av[8];
        int na = 0;
        av[na++] = "sbatch";
        av[na++] = "--parsable";
        if (dep[0]) {
            av[na++] = dep;
            av[na++] = "--kill-on-invalid-dep=yes";
        }
        av[na++] = s->path;
        av[na] = NULL;
        char why[512];
        if (run_sbatch(av, s->id, sizeof s->id, why, sizeof why)) {
            char queued[256] = "";
            for (int q = 0; q < j; q++)
                snprintf(queued + strlen(queued), sizeof queued - strlen(queued), " %s", js[q].id);
            cli_error("submit: sbatch %s failed: %s%s%s%s", s->path, why[0] ? why : "(no message)",
                      j ? "; the jobs submitted before it are still queued (scancel" : "", queued,
                      j ? ")" : "");
            goto done;
        }
        printf("submitted %s job %s (%s)\n", exp_slurm_job_name(s->job), s->id, s->path);
    }
    if (!dry) printf("logs: %s/logs/\n", dir);
    status = 0;
    goto done;
fail:
    cli_error("%s", e.msg);
done:
    for (int j = 0; j < n_js; j++) free(js[j].text);
    free(want);
    exp_shard_state_free(&st);
    exp_plan_free(&plan);
    exp_config_free(&cfg);
    return status;
}
