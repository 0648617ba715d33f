// test_experiment.c — experiment/: INI parsing (sections, ${VAR}, includes), sweep expansion
// (counts and contents for a config with every axis, no axis crossed with a method it does not
// apply to), and every INI error case with its file and line.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment/config.h"
#include "experiment/keys.h"
#include "experiment/sweep.h"
#include "method/params.h"

#define HEAD "[model]\npath = m\n[evaluation]\ndata = text:e.txt\n[calibration]\ndata = text:c.txt\n"

static int has_id(const exp_plan *p, const char *id) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->runs[i].id, id)) return 1;
    return 0;
}

static const exp_run *find(const exp_plan *p, const char *id) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->runs[i].id, id)) return &p->runs[i];
    return NULL;
}

static void every_axis(void **state) {
    (void)state;
    const char *ini = HEAD
        "[sweep]\n"
        "method = fp16, rtn, minmax, awq\n"
        "bits = 3, 4\n"
        "group_size = 64, 128, -1\n"
        "salient_pct = 0, 1\n"
        "salient_by = activation, weight\n"
        "scale_rule = search, fixed, salient\n"
        "alpha = search, 0:1:0.5\n"
        "clip = on, off\n"
        "propagate = fp, quantized\n"
        "salient_scale = 1, 2\n"
        "scale_pct = 1\n"
        "grid = 10, 20\n";
    exp_config c;
    exp_plan p;
    ah_err e = {{0}};
    assert_int_equal(exp_config_load_string(&c, ini, "t.ini", &e), 0);
    assert_int_equal(exp_plan_build(&p, &c, &e), 0);
    // fp16 1; rtn 6 * (pct 0 + pct 1 x 2 by) = 18 (kept channels are a modifier of every
    // method); minmax the same 18;
    // awq per (bits, group): search: clip 2 x prop 2 x (grid 2 + alpha 0, 0.5, 1) x salient 3 = 60,
    // fixed: 2 x 2 x 3 alphas x 3 = 36, salient rule: 2 x 2 x 2 scales x 1 pct x 3 = 24 -> 120 x 6.
    assert_int_equal(p.n, 1 + 18 + 18 + 720);
    int rtn = 0, fp = 0;
    for (int i = 0; i < p.n; i++) {
        rtn += p.runs[i].mc.kind == METHOD_RTN;
        fp += p.runs[i].mc.kind == METHOD_FP16;
        assert_int_equal(p.runs[i].index, i);
        for (int j = 0; j < i; j++) assert_string_not_equal(p.runs[i].id, p.runs[j].id);
    }
    assert_int_equal(rtn, 18);   // crossed with salient_pct, not with alpha, rules, clip...
    assert_int_equal(fp, 1);
    assert_true(has_id(&p, "rtn-w4-row"));
    assert_true(has_id(&p, "minmax-w3-g64-keep1-wei"));
    assert_true(has_id(&p, "rtn-w3-g64-keep1-wei"));   // rtn keeps its name, with kept channels
    assert_int_equal(find(&p, "rtn-w3-g64-keep1-wei")->mc.kind, METHOD_RTN);
    const exp_run *r = find(&p, "awq-w3-g64-fixed-a0.5-noclip-pq-keep1-wei");
    assert_non_null(r);
    assert_int_equal(r->mc.kind, METHOD_AWQ);
    assert_int_equal(r->mc.awq.rule, AWQ_FIXED);
    assert_int_equal(r->mc.awq.alpha_mode, AWQ_ALPHA_FIXED);
    assert_true(r->mc.awq.alpha == 0.5);
    assert_int_equal(r->mc.awq.clip, 0);
    assert_int_equal(r->mc.propagate_quantized, 1);
    assert_true(r->mc.salient_pct == 1.0);
    assert_int_equal(r->mc.by, SALIENT_WEIGHT);
    assert_int_equal(r->mc.q.group, 64);
    r = find(&p, "awq-w4-row-s2-top1");
    assert_non_null(r);
    assert_int_equal(r->mc.awq.rule, AWQ_SALIENT);
    assert_true(r->mc.awq.salient_scale == 2.0);
    assert_int_equal(r->mc.q.group, QUANT_GROUP_ROW);
    r = find(&p, "awq-w3-g128-search10");
    assert_non_null(r);
    assert_int_equal(r->mc.awq.grid_points, 10);
    assert_int_equal(r->mc.awq.alpha_mode, AWQ_ALPHA_SEARCH);
    assert_true(has_id(&p, "awq-w3-g128-search"));   // grid 20 is the default, unnamed
    assert_true(has_id(&p, "awq-w3-g128-a0"));       // search rule at a fixed alpha
    assert_false(has_id(&p, "awq-w3-g128-fixed-search"));
    // grid is not crossed with fixed alphas
    assert_false(has_id(&p, "awq-w3-g128-a0.5-search10"));

    // Sharding: every 3rd run from 1, indices kept from the whole plan.
    int n = p.n;
    exp_plan_shard(&p, 1, 3);
    assert_int_equal(p.n, (n + 1) / 3);   // indices 1, 4, 7, ... below n
    for (int i = 0; i < p.n; i++) assert_int_equal(p.runs[i].index % 3, 1);
    exp_plan_free(&p);
    exp_config_free(&c);
}

// gptq and awq+gptq: damp x block_size x act_order cross only with them; ids name what differs
// from the defaults; canonical keys hold the GPTQ parameters.
static void gptq_axes(void **state) {
    (void)state;
    const char *ini = HEAD
        "[sweep]\n"
        "method = minmax, gptq, awq+gptq\n"
        "bits = 3\n"
        "group_size = 128\n"
        "damp = 0.01, 0.1\n"
        "act_order = off, on\n"
        "clip = on, off\n";
    exp_config c;
    exp_plan p;
    ah_err e = {{0}};
    assert_int_equal(exp_config_load_string(&c, ini, "g.ini", &e), 0);
    assert_int_equal(exp_plan_build(&p, &c, &e), 0);
    // minmax 1; gptq 2 damp x 2 act_order = 4; awq+gptq 2 clip x 4 = 8.
    assert_int_equal(p.n, 1 + 4 + 8);
    assert_true(has_id(&p, "minmax-w3-g128"));
    const exp_run *r = find(&p, "gptq-w3-g128");
    assert_non_null(r);
    assert_int_equal(r->mc.kind, METHOD_GPTQ);
    assert_int_equal(r->mc.q.kind, QUANT_MINMAX);
    assert_true(r->mc.gptq.damp == 0.01);
    assert_int_equal(r->mc.gptq.block_size, 128);
    assert_int_equal(r->mc.gptq.act_order, 0);
    r = find(&p, "gptq-w3-g128-actorder-damp0.1");
    assert_non_null(r);
    assert_int_equal(r->mc.gptq.act_order, 1);
    assert_true(r->mc.gptq.damp == 0.1);
    r = find(&p, "awq+gptq-w3-g128-search");
    assert_non_null(r);
    assert_int_equal(r->mc.kind, METHOD_AWQ_GPTQ);
    assert_int_equal(r->mc.awq.clip, 1);
    assert_true(has_id(&p, "awq+gptq-w3-g128-search-noclip-actorder-damp0.1"));
    char a[512], b[512];
    exp_method_canonical(&find(&p, "gptq-w3-g128")->mc, a, sizeof a);
    exp_method_canonical(&find(&p, "gptq-w3-g128-damp0.1")->mc, b, sizeof b);
    assert_string_not_equal(a, b);
    assert_non_null(strstr(b, "damp=0.1"));
    exp_method_canonical(&find(&p, "minmax-w3-g128")->mc, a, sizeof a);
    assert_null(strstr(a, "damp"));   // other methods' keys unchanged
    exp_plan_free(&p);
    exp_config_free(&c);
}

static void ranges_and_defaults(void **state) {
    (void)state;
    exp_config c;
    exp_plan p;
    ah_err e = {{0}};
    const char *ini = HEAD "[sweep]\nmethod = awq\nalpha = 0:1:0.1,\n  search\nbits = 3\n";
    assert_int_equal(exp_config_load_string(&c, ini, "r.ini", &e), 0);
    const exp_axis_values *a = &c.axes[PARAM_ALPHA];
    assert_int_equal(a->n, 12);   // continuation line appended
    assert_true(a->v[3].num == 0.3 && a->v[3].word < 0);   // tidy: not 0.30000000000000004
    assert_true(a->v[10].num == 1.0);
    assert_int_equal(a->v[11].word, 0);   // "search": a value of its own, not a number
    assert_int_equal(exp_plan_build(&p, &c, &e), 0);
    assert_int_equal(p.n, 12);
    assert_int_equal(p.runs[0].mc.q.group, 128);   // defaults
    assert_int_equal(p.runs[0].mc.awq.clip, 1);
    assert_string_equal(c.name, "r");
    assert_string_equal(c.output, "results/r.h5");
    assert_string_equal(c.cache_dir, "results/cache");
    exp_plan_free(&p);
    exp_config_free(&c);

    // ${VAR} and ${VAR:-default}
    setenv("AH_TEST_MODEL", "/x/model", 1);
    unsetenv("AH_TEST_UNSET");
    ini = "[model]\npath = ${AH_TEST_MODEL}\ntokenizer = ${AH_TEST_UNSET:-/y/tok}\n[evaluation]\ndata = ids:z\n";
    assert_int_equal(exp_config_load_string(&c, ini, "v.ini", &e), 0);
    assert_string_equal(c.model_path, "/x/model");
    assert_string_equal(c.tokenizer, "/y/tok");
    assert_string_equal(c.model_name, "model");
    exp_config_free(&c);
}

static char g_dir[256];

static void write_file(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// Loads g_dir/rel, which must fail with a message holding want (and also, unless NULL).
static void load_fails(const char *rel, const char *want, const char *also) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    exp_config c;
    ah_err e = {{0}};
    assert_int_equal(exp_config_load(&c, path, &e), -1);
    if (!strstr(e.msg, want) || (also && !strstr(e.msg, also))) fprintf(stderr, "got '%s'\n", e.msg);
    assert_non_null(strstr(e.msg, want));
    if (also) assert_non_null(strstr(e.msg, also));
    exp_config_free(&c);
}

static void includes(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ah-exp-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    char sub[300];
    snprintf(sub, sizeof sub, "%s/blocks", g_dir);
    mkdir(sub, 0777);
    write_file("blocks/model.ini", "[model]\npath = /m/x\nname = tiny\n");
    // data.ini's last line has no newline: the stored text must still start the next file's
    // marker on a line of its own.
    write_file("blocks/data.ini", "include = model.ini\n[evaluation]\ndata = text:/e\nseqlen = 64");
    write_file("main.ini", "[experiment]\nname = inc\ninclude = blocks/data.ini\nseed = 7\n"
                           "[sweep]\nmethod = rtn\n");
    char main_path[300];
    snprintf(main_path, sizeof main_path, "%s/main.ini", g_dir);
    exp_config c;
    ah_err e = {{0}};
    assert_int_equal(exp_config_load(&c, main_path, &e), 0);
    assert_string_equal(c.model_path, "/m/x");   // include of an include, relative to it
    assert_string_equal(c.model_name, "tiny");
    assert_int_equal(c.seqlen, 64);
    assert_int_equal((int)c.seed, 7);            // back in [experiment] after the include
    assert_non_null(strstr(c.ini_text, "seqlen = 64\n; --- back in "));
    // The stored text parses alone to the same experiment.
    exp_config c2;
    assert_int_equal(exp_config_load_string(&c2, c.ini_text, "stored", &e), 0);
    assert_string_equal(c2.model_path, "/m/x");
    assert_int_equal((int)c2.seed, 7);
    assert_int_equal(c2.seqlen, 64);
    exp_config_free(&c2);
    exp_config_free(&c);

    // A cycle is stopped, naming the file and line of the include.
    write_file("a.ini", "[experiment]\ninclude = b.ini\n");
    write_file("b.ini", "[experiment]\ninclude = a.ini\n");
    load_fails("a.ini", "include", ".ini:2:");
    // A missing include names the including file and line.
    write_file("m.ini", "[model]\npath = x\n\ninclude = nothere.ini\n");
    load_fails("m.ini", "m.ini:4:", "nothere.ini");
    // An error inside an included file names that file.
    write_file("bad.ini", "[model]\npath = x\nwidth = 3\n");
    write_file("top.ini", "[experiment]\ninclude = bad.ini\n");
    load_fails("top.ini", "bad.ini:3:", NULL);
    // A key of an included file set again by the includer, or the other way round, is set
    // twice: the error names both places.
    write_file("samples.ini", "[calibration]\nsamples = 64\n");
    write_file("after.ini", "[calibration]\ninclude = samples.ini\nsamples = 32\n");
    load_fails("after.ini", "after.ini:3: samples given twice in [calibration] (first at ",
               "samples.ini:2)");
    write_file("before.ini", "[calibration]\nsamples = 32\ninclude = samples.ini\n");
    load_fails("before.ini", "samples.ini:2: samples given twice in [calibration] (first at ",
               "before.ini:2)");
    // Include reads are capped (INI_MAX_INCLUDES, all levels together): the 257th of 300.
    write_file("leaf.ini", "[experiment]\n");
    char many[300 * 20 + 1] = "";
    for (int i = 0; i < 300; i++) strcat(many, "include = leaf.ini\n");
    write_file("many.ini", many);
    load_fails("many.ini", "many.ini:257: include: more than 256 includes", NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
}

// Each bad INI fails with "t.ini:LINE:" and a message containing `want`.
// [sweep.NAME]: each named sweep crossed on its own over the axes of [sweep], the plan their
// union in section order with shared runs planned once.
static void named_sweeps(void **state) {
    (void)state;
    const char *ini = HEAD
        "[sweep]\n"
        "group_size = 128\n"
        "[sweep.main]\n"
        "method = fp16, minmax, awq\n"
        "bits = 3, 4\n"
        "[sweep.alpha]\n"
        "method = awq\n"
        "bits = 3\n"
        "alpha = 0, 1\n"
        "[sweep.group]\n"
        "method = minmax\n"
        "bits = 3\n"
        "group_size = 64, 128\n"
        "[sweep.main]\n"          // a section met again adds to the same named sweep
        "clip = off\n";
    exp_config c;
    exp_plan p;
    ah_err e = {{0}};
    assert_int_equal(exp_config_load_string(&c, ini, "t.ini", &e), 0);
    assert_int_equal(c.n_sweeps, 3);
    assert_string_equal(c.sweeps[0].name, "main");
    assert_int_equal(exp_plan_build(&p, &c, &e), 0);
    // main: fp16 + minmax x 2 bits + awq x 2 bits (clip off) = 5; alpha: 2 (clip on, the
    // default: [sweep.main]'s clip is not shared); group: minmax-w3-g64 (g128 is main's) = 1.
    static const char *const want[] = {
        "fp16", "minmax-w3-g128", "minmax-w4-g128", "awq-w3-g128-search-noclip",
        "awq-w4-g128-search-noclip", "awq-w3-g128-a0", "awq-w3-g128-a1", "minmax-w3-g64",
    };
    if (p.n != 8)
        for (int i = 0; i < p.n; i++) fprintf(stderr, "run %d: %s\n", i, p.runs[i].id);
    assert_int_equal(p.n, 8);
    for (int i = 0; i < 8; i++) {
        assert_string_equal(p.runs[i].id, want[i]);
        assert_int_equal(p.runs[i].index, i);
    }
    assert_int_equal(find(&p, "awq-w3-g128-a1")->mc.awq.clip, 1);
    assert_int_equal(find(&p, "minmax-w3-g64")->mc.q.group, 64);
    exp_plan_free(&p);

    // The text stored in results files parses to the same plan.
    exp_config c2;
    assert_int_equal(exp_config_load_string(&c2, c.ini_text, "stored", &e), 0);
    assert_int_equal(exp_plan_build(&p, &c2, &e), 0);
    assert_int_equal(p.n, 8);
    exp_plan_free(&p);
    exp_config_free(&c2);
    exp_config_free(&c);
}

typedef struct {
    const char *ini;
    int line;          // 0: the error is about the whole file (no line)
    const char *want;
    int at_plan;       // detected when planning, not parsing
} bad_case;

// [export] formats in the order written (spaces around names ignored), dir as given; the
// scale dtype a format asks for enters the run and AWQ-search keys, and f32 leaves them as
// they were (so the default runs keep their cache entries).
static void export_section(void **state) {
    (void)state;
    exp_config c;
    ah_err e = {{0}};
    assert_int_equal(exp_config_load_string(&c, HEAD "[export]\nformats =  gptq ,awq,gguf-q4_0\n"
                                                 "dir = out/x\n", "t.ini", &e), 0);
    assert_int_equal(c.n_exports, 3);
    assert_string_equal(c.export_formats[0], "gptq");
    assert_string_equal(c.export_formats[1], "awq");
    assert_string_equal(c.export_formats[2], "gguf-q4_0");
    assert_string_equal(c.export_dir, "out/x");
    exp_config_free(&c);
    assert_int_equal(exp_config_load_string(&c, HEAD, "t.ini", &e), 0);
    assert_int_equal(c.n_exports, 0);
    exp_config_free(&c);

    method_cfg mc;
    memset(&mc, 0, sizeof mc);
    param_defaults(&mc);
    mc.kind = METHOD_AWQ;
    char f32[512], f16[512], kf32[65], kf16[65];
    exp_method_canonical(&mc, f32, sizeof f32);
    exp_awq_key(&mc, "m", "c", kf32);
    assert_null(strstr(f32, "scales="));
    mc.q.scale_dtype = QUANT_SCALE_F16;
    exp_method_canonical(&mc, f16, sizeof f16);
    exp_awq_key(&mc, "m", "c", kf16);
    assert_non_null(strstr(f16, "|scales=f16"));
    assert_int_equal(strncmp(f16, f32, strlen(f32)), 0);
    assert_string_not_equal(kf16, kf32);
}

static void ini_errors(void **state) {
    (void)state;
    unsetenv("AH_TEST_UNSET");
    char long_line[400];
    snprintf(long_line, sizeof long_line, HEAD "[sweep]\nalpha = %0300d\n", 1);
    const bad_case cases[] = {
        {"[model]\npath = m\n[sweep]\nwidth = 3\n", 4, "unknown key 'width' in [sweep]", 0},
        {"[model]\npath = m\n[sweeps]\nmethod = rtn\n", 4, "unknown section [sweeps]", 0},
        {"[experiment]\nthreads = many\n", 2, "threads: expected an integer", 0},
        {HEAD "[sweep]\nmethod = rtn, foo\n", 8, "unknown value 'foo'", 0},
        {HEAD "[sweep]\nbits = 3\nbits = 4\n", 9, "bits given twice", 0},
        {"path = m\n[model]\n", 1, "before any [section]", 0},
        {HEAD "this is not ini\n", 7, "not an INI line", 0},
        {HEAD "[sweep]\nalpha = 1:0:0.1\n", 8, "STOP >= START", 0},
        {HEAD "[sweep]\nalpha = 0:1\n", 8, "START:STOP:STEP", 0},
        {HEAD "[sweep]\nsalient_pct = lots\n", 8, "expected a number", 0},
        {"[model]\npath = ${AH_TEST_UNSET}\n", 2, "AH_TEST_UNSET is not set", 0},
        {"[calibration]\npick = best\n", 2, "pick: expected random or first", 0},
        {"[evaluation]\nprotocol = lm-eval\n", 2, "protocol: expected gptq or llamacpp", 0},
        {"[experiment]\nname = a b\n", 2, "name: 'a b' may hold only", 0},
        {"[plot.x]\ncolour = red\n", 2, "unknown key 'colour' in [plot.x]", 0},
        {"[experiment]\nrecord_layers = maybe\n", 2, "expected yes or no", 0},
        {long_line, 8, "line longer than", 0},
        {HEAD "[sweep]\nmethod = rtn\nbits = 3, 9\n", 9, "bits: 9 is not a whole number of bits in 2..8", 1},
        {HEAD "[sweep]\nmethod = rtn\ngroup_size = 0\n", 9, "group_size: 0 is not a group size", 1},
        {HEAD "[sweep]\nmethod = awq\n\nalpha = 1.5\n", 10, "alpha: 1.5 is outside [0, 1]", 1},
        {HEAD "[sweep]\nmethod = awq\nscale_rule = fixed\n", 9, "rule fixed needs numeric alpha", 1},
        {HEAD "[sweep]\nmethod = salient\n", 8, "needs a salient_pct list", 1},
        {HEAD "[sweep]\nmethod = gptq\ndamp = 0\n", 9, "damp: 0 is not a relative dampening", 1},
        {HEAD "[sweep]\nmethod = gptq\nblock_size = 2.5\n", 9, "block_size: 2.5 is not a block size", 1},
        {HEAD "[sweep]\nact_order = maybe\n", 8, "unknown value 'maybe'", 0},
        {"[model]\npath = m\n[evaluation]\ndata = ids:x\n[sweep]\nmethod = awq\n", 0,
         "needs calibration data", 1},
        {"[evaluation]\ndata = ids:x\n", 0, "[model] path is required", 0},
        {HEAD "[sweep.]\nbits = 3\n", 8, "a named sweep needs a name", 0},
        {HEAD "[sweep.a]\nbits = 3\n[sweep.b]\nbits = 4\n[sweep.a]\nbits = 2\n", 12,
         "bits given twice in [sweep.a] (first at t.ini:8)", 0},
        {HEAD "[sweep.a]\nwidth = 3\n", 8, "unknown key 'width' in [sweep.a]", 0},
        {HEAD "[sweep]\nmethod = awq\n[sweep.a]\nbits = 3\n[sweep.b]\nalpha = 2\n", 12,
         "alpha: 2 is outside [0, 1]", 1},
        // names that become file names are plain
        {HEAD "[plot.../x]\nkind = ppl_vs_alpha\n", 8, "[plot.../x]: the name '../x' may hold only", 0},
        {HEAD "[sweep.a/b]\nbits = 3\n", 8, "[sweep.a/b]: the name 'a/b' may hold only", 0},
        {"[experiment]\nname = .hidden\n", 2, "name: '.hidden' may hold only", 0},
        // a key is set once per section, wherever the section is met again
        {"[experiment]\noutput = a.h5\noutput = b.h5\n", 3,
         "output given twice in [experiment] (first at t.ini:2)", 0},
        {HEAD "[sweep]\nmethod = rtn\n[model]\npath = n\n", 10,
         "path given twice in [model] (first at t.ini:2)", 0},
        {"[experiment]\ndescription = a\n  b\n", 3, "description in [experiment] continues on an indented line", 0},
        // two different runs with one id
        {HEAD "[sweep]\nmethod = awq\nalpha = 0.5, 0.5000001\n", 9,
         "alpha: 0.5 and 0.5000001 give the same run id 'awq-w4-g128-a0.5'", 1},
        {HEAD "[sweep]\nmethod = minmax\nsalient_pct = 1, 1.0000001\n", 9,
         "salient_pct: 1 and 1.0000001 give the same run id 'minmax-w4-g128-keep1-act'", 1},
        {HEAD "[sweep]\nmethod = awq\nscale_rule = salient\nsalient_scale = 2, 2.0000001\n", 10,
         "salient_scale: 2 and 2.0000001 give the same run id", 1},
        // [export]: formats from the export format table, once each; dir a path
        {HEAD "[export]\nformats = awq, safetensors\n", 8, "formats: unknown format 'safetensors' (expected harness, gguf", 0},
        {HEAD "[export]\nformats = awq, gptq, awq\n", 8, "formats: awq listed twice", 0},
        {HEAD "[export]\nformats = awq,\n", 8, "formats: expected a list of", 0},
        {HEAD "[export]\nformat = awq\n", 8, "unknown key 'format' in [export] (formats, dir, include)", 0},
        {HEAD "[export]\ndir =\n", 8, "dir: empty value", 0},
        // plans over EXP_MAX_RUNS: 7 x 64 x 64 x 2 x 2 runs
        {HEAD "[sweep]\nmethod = awq\nbits = 2:8:1\ngroup_size = 1:64:1\nalpha = 0:0.63:0.01\n"
              "clip = on, off\npropagate = fp, quantized\n", 0,
         "t.ini: the sweep plans 114688 runs; the limit is 100000", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        exp_config c;
        exp_plan p;
        ah_err e = {{0}};
        int rc = exp_config_load_string(&c, cases[i].ini, "t.ini", &e);
        if (cases[i].at_plan) {
            if (rc != 0) fprintf(stderr, "case %zu: parse failed: %s\n", i, e.msg);
            assert_int_equal(rc, 0);
            rc = exp_plan_build(&p, &c, &e);
        }
        if (rc != -1 || !strstr(e.msg, cases[i].want)) fprintf(stderr, "case %zu: got '%s'\n", i, e.msg);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(e.msg, cases[i].want));
        char where[32];
        snprintf(where, sizeof where, "t.ini:%d:", cases[i].line);
        if (cases[i].line) {
            if (strncmp(e.msg, where, strlen(where))) fprintf(stderr, "case %zu: got '%s'\n", i, e.msg);
            assert_true(strncmp(e.msg, where, strlen(where)) == 0);
        } else {
            assert_non_null(strstr(e.msg, "t.ini"));
        }
        exp_config_free(&c);
    }
}

// The plan's id bookkeeping: a value listed twice plans one run, a big plan keeps every run
// in order with distinct ids (the hashed index).
static void plan_ids(void **state) {
    (void)state;
    exp_config c;
    exp_plan p;
    ah_err e = {{0}};
    assert_int_equal(exp_config_load_string(&c, HEAD "[sweep]\nmethod = rtn, rtn\nbits = 4, 4, 3\n",
                                            "t.ini", &e), 0);
    assert_int_equal(exp_plan_build(&p, &c, &e), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.runs[0].id, "rtn-w4-g128");
    assert_string_equal(p.runs[1].id, "rtn-w3-g128");
    exp_plan_free(&p);
    exp_config_free(&c);
    // 7 bits x 64 groups x 64 alphas x 2 clip = 57344 runs, all distinct.
    assert_int_equal(exp_config_load_string(&c, HEAD "[sweep]\nmethod = awq\nbits = 2:8:1\n"
                                            "group_size = 1:64:1\nalpha = 0:0.63:0.01\nclip = on, off\n",
                                            "t.ini", &e), 0);
    assert_int_equal(exp_plan_build(&p, &c, &e), 0);
    assert_int_equal(p.n, 57344);
    for (int i = 0; i < p.n; i++) assert_int_equal(p.runs[i].index, i);
    assert_string_equal(p.runs[0].id, "awq-w2-g1-a0");
    assert_string_equal(p.runs[p.n - 1].id, "awq-w8-g64-a0.63-noclip");
    exp_plan_free(&p);
    exp_config_free(&c);
}

// Text stored by an older harness may set a key outside [sweep] twice (an includer over its
// include, "; --- FILE" markers between): a new file refuses that, the stored text reads with
// the last value, as it ran; a [sweep] key twice stays an error in both.
static void stored_text_repeats(void **state) {
    (void)state;
    const char *text = "; --- a.ini\n[experiment]\nname = x\n[model]\npath = m\n[evaluation]\n"
                       "data = text:t\n[calibration]\n; --- d.ini\nsamples = 128\n"
                       "; --- a.ini\nsamples = 32\n[sweep]\nmethod = fp16\n";
    exp_config c;
    ah_err e = {{0}};
    assert_int_not_equal(exp_config_load_string(&c, text, "t.ini", &e), 0);
    assert_non_null(strstr(e.msg, "samples given twice"));
    assert_int_equal(exp_config_load_stored(&c, text, "stored", &e), 0);
    assert_int_equal(c.calib_samples, 32);
    exp_config_free(&c);
    const char *sweep2 = "[experiment]\nname = x\n[model]\npath = m\n[evaluation]\ndata = text:t\n"
                         "[sweep]\nmethod = fp16\nmethod = rtn\n";
    assert_int_not_equal(exp_config_load_stored(&c, sweep2, "stored", &e), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_axis),
        cmocka_unit_test(gptq_axes),
        cmocka_unit_test(ranges_and_defaults),
        cmocka_unit_test(includes),
        cmocka_unit_test(named_sweeps),
        cmocka_unit_test(export_section),
        cmocka_unit_test(ini_errors),
        cmocka_unit_test(plan_ids),
        cmocka_unit_test(stored_text_repeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
