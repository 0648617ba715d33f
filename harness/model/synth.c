// synth.c — synthetic checkpoints; see synth.h for the layout and the value distribution.
#include "model/synth.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "core/half.h"
#include "core/mem.h"
#include "core/progress.h"
#include "model/model.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL

void synth_defaults(synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->dtype = ST_F16;
    o->std = 0.02;
    o->n_ids = 8192;
}

// splitmix64's output function: a bijective 64-bit mix; mix64(key + i * GOLDEN) is element i
// of the splitmix64 stream started at key.
static uint64_t mix64(uint64_t z) {
    z += GOLDEN;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// The stream key of one tensor: FNV-1a of its name mixed with the seed, so a tensor's values
// do not depend on which other tensors the file holds or their order.
static uint64_t tensor_key(uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
    return mix64(seed ^ mix64(h));
}

// Box-Muller: the two standard normals of pair p of the stream `key`, times std.
static void normal_pair(uint64_t key, uint64_t p, double std, float z[2]) {
    uint64_t a = mix64(key + (2 * p) * GOLDEN), b = mix64(key + (2 * p + 1) * GOLDEN);
    double u1 = (double)((a >> 11) + 1) * 0x1p-53;   // (0, 1]: log(u1) is finite
    double u2 = (double)(b >> 11) * 0x1p-53;         // [0, 1)
    double r = sqrt(-2.0 * log(u1)) * std, t = 2.0 * M_PI * u2;
    z[0] = (float)(r * cos(t));
    z[1] = (float)(r * sin(t));
}

float synth_normal(uint64_t seed, const char *name, uint64_t k, double std) {
    float z[2];
    normal_pair(tensor_key(seed, name), k / 2, std, z);
    return z[k & 1];
}

typedef enum { FILL_NORMAL, FILL_ONE, FILL_ZERO } fill_kind;

typedef struct {
    const st_write_tensor *t;
    const fill_kind *kind;      // [n]
    const uint64_t *key;        // [n]
    st_dtype dtype;
    double std;
    ah_progress *prog;
} fill_ctx;

static void store(void *buf, size_t i, float v, st_dtype d) {
    if (d == ST_F16) ((uint16_t *)buf)[i] = ah_f32_to_f16(v);
    else if (d == ST_BF16) ((uint16_t *)buf)[i] = ah_f32_to_bf16(v);
    else ((float *)buf)[i] = v;
}

// st_fill_fn: bytes [offset, offset + len) of tensor i, i.e. elements [k0, k0 + n).
static int fill(void *vctx, size_t i, void *buf, size_t offset, size_t len, ah_err *e) {
    const fill_ctx *c = vctx;
    size_t esz = st_dtype_size(c->dtype);
    uint64_t k0 = offset / esz, n = len / esz;
    if (c->kind[i] != FILL_NORMAL) {
        float v = c->kind[i] == FILL_ONE ? 1.0f : 0.0f;
        for (uint64_t j = 0; j < n; j++) store(buf, j, v, c->dtype);
    } else if (n > 0) {
        uint64_t p0 = k0 / 2, p1 = (k0 + n - 1) / 2, key = c->key[i];
        st_dtype d = c->dtype;
        double std = c->std;
#pragma omp parallel for schedule(static)
        for (uint64_t p = p0; p <= p1; p++) {
            float z[2];
            normal_pair(key, p, std, z);
            for (uint64_t b = 0; b < 2; b++) {
                uint64_t k = 2 * p + b;
                if (k >= k0 && k < k0 + n) store(buf, k - k0, z[b], d);
            }
        }
    }
    ah_progress_step(c->prog, (long)(len >> 20), c->t[i].name);
    (void)e;
    return 0;
}

static int copy_bytes(const char *from, const char *to, ah_err *e) {
    size_t len;
    char *text = ah_read_file(from, &len, e);
    if (!text) return -1;
    FILE *f = fopen(to, "wb");
    int bad = !f || fwrite(text, 1, len, f) != len;
    if (f) bad |= fclose(f) != 0;
    free(text);
    return bad ? ah_fail(e, "%s: write failed: %s", to, strerror(errno)) : 0;
}

// config.json of a truncated model: the given config with num_hidden_layers = layers.
static int write_config_layers(const char *from, const char *to, int layers, ah_err *e) {
    json_error_t je;
    json_t *root = json_load_file(from, 0, &je);
    if (!root) return ah_fail(e, "%s:%d: %s", from, je.line, je.text);
    int bad = json_object_set_new(root, "num_hidden_layers", json_integer(layers)) != 0 ||
              json_dump_file(root, to, JSON_INDENT(2)) != 0;
    json_decref(root);
    return bad ? ah_fail(e, "%s: write failed: %s", to, strerror(errno)) : 0;
}

static int write_ids(const char *path, size_t n, uint64_t seed, int vocab, ah_err *e) {
    FILE *f = fopen(path, "w");
    if (!f) return ah_fail(e, "%s: cannot create: %s", path, strerror(errno));
    uint64_t key = tensor_key(seed, "ids.txt");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%llu%c", (unsigned long long)(mix64(key + i * GOLDEN) % (uint64_t)vocab),
                (i % 32 == 31 || i + 1 == n) ? '\n' : ' ');
    return fclose(f) != 0 ? ah_fail(e, "%s: write failed (disk full?)", path) : 0;
}

// What a role is filled with: norm weights 1, biases 0, everything else random.
static fill_kind global_kind(arch_global g) {
    return g == G_FINAL_NORM ? FILL_ONE : g == G_FINAL_NORM_B ? FILL_ZERO : FILL_NORMAL;
}

static fill_kind layer_kind(arch_layer_role r) {
    if (r == L_ATTN_NORM || r == L_MLP_NORM) return FILL_ONE;
    if (arch_role_is_linear(r)) return FILL_NORMAL;
    return FILL_ZERO;   // the *_B roles: linear and LayerNorm biases
}

int synth_write(const char *config_path, const char *out_dir, const synth_opts *o,
                synth_summary *sum, ah_err *e) {
    memset(sum, 0, sizeof *sum);
    if (o->dtype != ST_F16 && o->dtype != ST_BF16 && o->dtype != ST_F32)
        return ah_fail(e, "synth: dtype %s is not F16, BF16 or F32", st_dtype_name(o->dtype));
    if (!(o->std > 0 && o->std < 1e3)) return ah_fail(e, "synth: std %g out of range", o->std);
    char *text = ah_read_file(config_path, NULL, e);
    if (!text) return -1;
    model_config c;
    int rc = model_config_parse(&c, text, config_path, e);
    free(text);
    if (rc) return -1;
    if (o->layers < 0 || o->layers > c.n_layers)
        return ah_fail(e, "synth: --layers %d: %s has %d layers", o->layers, config_path, c.n_layers);
    if (o->layers) c.n_layers = o->layers;
    const arch_desc *a = c.arch;

    size_t cap = G_COUNT + (size_t)c.n_layers * L_COUNT, n = 0;
    st_write_tensor *t = calloc(cap, sizeof *t);
    fill_kind *kind = calloc(cap, sizeof *kind);
    uint64_t *key = calloc(cap, sizeof *key);
    char *names = calloc(cap, MODEL_NAME_CAP);
    if (!t || !kind || !key || !names) {
        rc = ah_fail(e, "synth: out of memory");
        goto done;
    }
    // Every tensor the loader binds (model.c), in arch-table order: globals, then layer-major.
    for (size_t slot = 0; slot < cap; slot++) {
        int g = slot < G_COUNT ? (int)slot : -1, l = 0, r = 0;
        const char *pat;
        int64_t shape[2];
        int nd;
        if (g >= 0) {
            pat = a->global_names[g];
            if (!pat || (g == G_LM_HEAD && c.tied_embeddings)) continue;
            nd = model_global_shape(&c, (arch_global)g, shape);
            kind[n] = global_kind((arch_global)g);
        } else {
            l = (int)((slot - G_COUNT) / L_COUNT);
            r = (int)((slot - G_COUNT) % L_COUNT);
            pat = a->layer_names[r];
            if (!pat) continue;
            nd = model_role_shape(&c, (arch_layer_role)r, shape);
            kind[n] = layer_kind((arch_layer_role)r);
        }
        char p[MODEL_NAME_CAP], *name = names + n * MODEL_NAME_CAP;
        size_t pl = strlen(pat);
        snprintf(p, sizeof p, "%.*s", (int)(pl - (pl && pat[pl - 1] == '?')), pat);   // '?': optional
        snprintf(name, MODEL_NAME_CAP, p, l);
        t[n] = (st_write_tensor){.name = name, .dtype = o->dtype, .ndim = nd,
                                 .shape = {shape[0], nd > 1 ? shape[1] : 0}};
        key[n] = tensor_key(o->seed, name);
        uint64_t numel = (uint64_t)shape[0] * (uint64_t)(nd > 1 ? shape[1] : 1);
        sum->params += numel;
        sum->bytes += numel * st_dtype_size(o->dtype);
        n++;
    }
    sum->tensors = n;

    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        rc = ah_fail(e, "%s: cannot create directory: %s", out_dir, strerror(errno));
        goto done;
    }
    if (!ah_is_dir(out_dir)) {
        rc = ah_fail(e, "%s: not a directory", out_dir);
        goto done;
    }
    // Refuse before writing gigabytes into a disk that cannot hold them (1% + 64 MiB margin for
    // the header and the other files).
    struct statvfs vfs;
    if (statvfs(out_dir, &vfs) == 0) {
        double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
        double need = (double)sum->bytes * 1.01 + (64 << 20);
        if (avail < need) {
            rc = ah_fail(e, "%s: %.2f GiB free, the synthetic checkpoint needs %.2f GiB", out_dir,
                         avail / (1 << 30), need / (1 << 30));
            goto done;
        }
    }

    char path[4200], meta[256];
    if (ah_path_join(path, sizeof path, out_dir, "config.json")) {
        rc = ah_fail(e, "%s: path too long", out_dir);
        goto done;
    }
    rc = o->layers ? write_config_layers(config_path, path, o->layers, e) : copy_bytes(config_path, path, e);
    if (rc) goto done;
    ah_path_join(path, sizeof path, out_dir, "ids.txt");
    if (o->n_ids && (rc = write_ids(path, o->n_ids, o->seed, c.vocab_size, e))) goto done;

    ah_progress prog;
    ah_progress_start(&prog, "synth", (long)(sum->bytes >> 20), o->quiet);
    fill_ctx fc = {.t = t, .kind = kind, .key = key, .dtype = o->dtype, .std = o->std, .prog = &prog};
    snprintf(meta, sizeof meta,
             "{\"format\": \"pt\", \"synthetic\": \"awq-harness synth seed=%llu std=%g\"}",
             (unsigned long long)o->seed, o->std);
    ah_path_join(path, sizeof path, out_dir, "model.safetensors");
    rc = st_write_fill(path, t, n, meta, fill, &fc, e);
    ah_progress_end(&prog);
done:
    free(t);
    free(kind);
    free(key);
    free(names);
    return rc;
}
