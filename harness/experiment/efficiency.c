// efficiency.c — a run's memory and generation speed ([evaluation] efficiency; efficiency.h).
#include "experiment/efficiency.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/quantile.h"
#include "eval/gen_model.h"
#include "eval/generate.h"
#include "packed/pmodel.h"

int exp_efficiency_check(const exp_config *c, const exp_plan *plan, const model *m,
                         size_t eval_ids, ah_err *e) {
    if (!c->efficiency) return 0;
    for (int i = 0; i < plan->n; i++)
        if (plan->runs[i].mc.kind != METHOD_FP16 && plan->runs[i].mc.salient_pct > 0)
            return ah_fail(e, "%s: [evaluation] efficiency: run %s keeps full-precision columns "
                              "(salient_pct > 0), which the packed kernels do not hold",
                           c->source, plan->runs[i].id);
    if ((size_t)c->eff_prompt > eval_ids)
        return ah_fail(e, "%s: [evaluation] efficiency_prompt = %d, but the evaluation data has "
                          "%zu tokens", c->source, c->eff_prompt, eval_ids);
    if (c->eff_prompt + c->eff_decode > m->cfg.max_seq)
        return ah_fail(e, "%s: [evaluation] efficiency_prompt + efficiency_decode = %d exceed the "
                          "model's context (%d)", c->source, c->eff_prompt + c->eff_decode,
                       m->cfg.max_seq);
    return 0;
}

// Bytes of the block linears as the checkpoint stores them: an FP run's weight bytes.
static size_t stored_linear_bytes(const model *m) {
    size_t b = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int r = 0; r < L_COUNT; r++) {
            const model_weight *w = arch_role_is_linear(r) ? model_lw(m, l, r) : NULL;
            if (w && w->data) b += model_weight_numel(w) * st_dtype_size(w->dtype);
        }
    return b;
}

// Resets the kernel's peak-RSS mark of this process (Linux >= 4.0); 0 when it did.
static int reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

// VmHWM of /proc/self/status in MiB (the peak since the last reset); NaN when unreadable.
static double peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    char line[256];
    double mb = NAN;
    long kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) mb = (double)kb / 1024.0;
    fclose(f);
    return mb;
}

int exp_efficiency_measure(exp_efficiency *out, const exp_config *c, const model *m,
                           const int32_t *ids, size_t n_ids, const method_cfg *mc,
                           const calib_set *cs, const qpass *done, ah_err *e) {
    memset(out, 0, sizeof *out);
    out->prompt_tokens = c->eff_prompt;
    out->decode_tokens = c->eff_decode;
    out->reps = c->eff_reps;
    out->threads = omp_get_max_threads();
    const char *wait = getenv("OMP_WAIT_POLICY");   // main.c sets passive unless the user chose
    snprintf(out->omp_wait, sizeof out->omp_wait, "%s", wait ? wait : "default");
    if ((size_t)c->eff_prompt > n_ids)
        return ah_fail(e, "efficiency: %zu evaluation tokens, %d asked for", n_ids, c->eff_prompt);
    int quantized = mc->kind != METHOD_FP16, rc = -1;
    qpass *qp = NULL;
    packed_set *ps = NULL;
    gen_model g = {0};
    int32_t *gen = malloc((size_t)c->eff_decode * sizeof *gen);
    double *pf = calloc((size_t)c->eff_reps, sizeof *pf), *dc = calloc((size_t)c->eff_reps, sizeof *dc);
    if (!gen || !pf || !dc) {
        ah_fail(e, "out of memory (efficiency)");
        goto done;
    }
    out->rss_reset = reset_peak_rss() == 0;
    if (quantized) {   // the run's codes again, this time kept as codes
        if (!(qp = qpass_new(m, mc, cs, e)) || !(ps = packed_set_new(m, &mc->q, e))) goto done;
        if (done && done->awq) qp->awq_preset = done->awq;
        qp->sink = packed_set_sink;
        qp->sink_ctx = ps;
    }
    if (gen_model_build(&g, m, qp, ps, e)) goto done;
    if (qp) qp->awq_preset = NULL;
    qpass_free(qp);   // nothing of it is needed to generate
    qp = NULL;
    out->weight_bytes = ps ? packed_set_bytes(ps) : stored_linear_bytes(m);
    snprintf(out->kernel, sizeof out->kernel, "%s",
             ps ? packed_kernel_name(packed_kernel_auto()) : "blas");
    gen_opts go = {.max_new = c->eff_decode, .top_k = 1, .temperature = 1.0, .seed = 0, .stop_id = -1};
    // One untimed run first, the prompt and one token (bench-generate's --warmup 1, as
    // llama-bench warms up): the first pass over fresh weights pays page faults and cold
    // caches, and with a median over few repetitions it could still weigh.
    gen_opts wo = go;
    wo.max_new = 1;
    int n_warm;
    if (gen_run_kv(m, g.blocks, ids, c->eff_prompt, &wo, gen, &n_warm, NULL, NULL, NULL, e))
        goto done;
    for (int r = 0; r < c->eff_reps; r++) {
        gen_stats st = {0};
        int n_out;
        if (gen_run_kv(m, g.blocks, ids, c->eff_prompt, &go, gen, &n_out, NULL, NULL, &st, e))
            goto done;
        pf[r] = st.prefill_s > 0 ? st.prefill_tokens / st.prefill_s : 0.0;
        dc[r] = st.decode_s > 0 ? st.decode_tokens / st.decode_s : 0.0;
    }
    out->prefill_tok_s = ah_quantile(pf, c->eff_reps, 0.5);
    out->decode_tok_s = ah_quantile(dc, c->eff_reps, 0.5);
    out->peak_rss_mb = peak_rss_mb();
    rc = 0;
done:
    if (qp) qp->awq_preset = NULL;
    qpass_free(qp);
    gen_model_free(&g);
    packed_set_free(ps);
    free(gen);
    free(pf);
    free(dc);
    return rc ? ah_wrap(e, "[evaluation] efficiency") : 0;
}

int exp_efficiency_record(store_run_writer *w, const exp_efficiency *x, ah_err *e) {
    if (store_run_attr_int(w, "", "weight_bytes", (long long)x->weight_bytes, e) ||
        store_run_attr_real(w, "", "peak_rss_mb", x->peak_rss_mb, e) ||
        store_run_attr_int(w, "", "eff_rss_reset", x->rss_reset, e) ||
        store_run_attr_real(w, "", "prefill_tok_s", x->prefill_tok_s, e) ||
        store_run_attr_real(w, "", "decode_tok_s", x->decode_tok_s, e) ||
        store_run_attr_int(w, "", "eff_prompt_tokens", x->prompt_tokens, e) ||
        store_run_attr_int(w, "", "eff_decode_tokens", x->decode_tokens, e) ||
        store_run_attr_int(w, "", "eff_reps", x->reps, e) ||
        store_run_attr_int(w, "", "eff_threads", x->threads, e) ||
        store_run_attr_str(w, "", "eff_kernel", x->kernel, e) ||
        store_run_attr_str(w, "", "eff_omp_wait", x->omp_wait, e))
        return -1;
    return 0;
}
