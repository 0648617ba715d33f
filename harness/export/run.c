// run.c — the quantization pass of an export and its writing in a format (run.h).
#include "export/run.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "method/params.h"

// The manifest: what was done, how the files are laid out, and the per-linear metrics.
static char *manifest(const model *m, const qexport_job *j, const calib_set *cs,
                      const qpass *p) {
    const method_cfg *mc = j->mc;
    json_t *root = json_object(), *lin = json_array();
    json_object_set_new(root, "harness", json_string("awq-harness 0.1.0"));
    json_object_set_new(root, "source_model", json_string(m->path));
    json_object_set_new(root, "source_format", json_string(m->format));
    json_object_set_new(root, "model_type", json_string(m->cfg.arch->model_type));
    json_object_set_new(root, "method", json_string(method_name(mc->kind)));
    json_object_set_new(root, "quantizer", json_string(quant_kind_name(mc->q.kind)));
    json_object_set_new(root, "bits", json_integer(mc->q.bits));
    json_object_set_new(root, "group_size", json_integer(mc->q.group));
    json_object_set_new(root, "ragged_last_group",
                        json_string("a row whose width the group size does not divide ends with a shorter group"));
    if (method_takes(mc->kind, MP_SALIENT) && mc->salient_pct > 0) {
        json_object_set_new(root, "salient_pct", json_real(mc->salient_pct));
        json_object_set_new(root, "salient_by", json_string(salient_by_name(mc->by)));
    }
    json_object_set_new(root, "seed", json_integer((json_int_t)j->seed));
    if (j->run_id) {   // a sweep's run: which one (a rerun reuses a complete export of it)
        json_t *run = json_object();
        json_object_set_new(run, "id", json_string(j->run_id));
        json_object_set_new(run, "key", json_string(j->run_key ? j->run_key : ""));
        json_object_set_new(root, "experiment_run", run);
    }
    if (method_uses_gptq(mc->kind)) {
        json_t *gq = json_object();
        json_object_set_new(gq, "damp", json_real(mc->gptq.damp));
        json_object_set_new(gq, "block_size", json_integer(mc->gptq.block_size));
        json_object_set_new(gq, "act_order", json_boolean(mc->gptq.act_order));
        json_object_set_new(gq, "codes", json_string(
            "GPTQ's own codes, scales and zeros per group in the original column order (act_order: "
            "static groups), so the same dequantization as every method"));
        json_object_set_new(root, "gptq", gq);
    }
    if (method_uses_awq(mc->kind)) {
        json_t *a = json_object(), *chosen = json_array();
        json_object_set_new(a, "scale_rule", json_string(awq_rule_name(mc->awq.rule)));
        json_object_set_new(a, "alpha", mc->awq.alpha_mode == AWQ_ALPHA_FIXED ? json_real(mc->awq.alpha) : json_string("search"));
        json_object_set_new(a, "grid_points", json_integer(mc->awq.grid_points));
        json_object_set_new(a, "grid_include_one", json_boolean(mc->awq.grid_include_one));
        json_object_set_new(a, "clip", json_boolean(mc->awq.clip));
        json_object_set_new(a, "propagate", json_string(mc->propagate_quantized ? "quantized" : "fp"));
        json_object_set_new(a, "files", json_string("awq.safetensors: scales, alpha, loss curve, statistics, clip thresholds"));
        for (int l = 0; l < m->cfg.n_layers; l++) {
            json_t *row = json_object();
            for (int g = 0; g < m->cfg.arch->n_groups; g++)
                if (p->awq[l].group[g].applied)
                    json_object_set_new(row, m->cfg.arch->groups[g].name,
                                        json_real(p->awq[l].group[g].alpha));
            json_array_append_new(chosen, row);
        }
        json_object_set_new(a, "chosen_alpha", chosen);
        json_object_set_new(root, "awq", a);
    }
    if (cs && cs->n) {
        json_t *c = json_object();
        json_object_set_new(c, "source", json_string(j->calib_source ? j->calib_source : ""));
        json_object_set_new(c, "samples", json_integer(cs->n));
        json_object_set_new(c, "seqlen", json_integer(cs->len));
        json_object_set_new(c, "source_tokens", json_integer((json_int_t)cs->source_tokens));
        json_object_set_new(root, "calibration", c);
    }
    json_object_set_new(root, "packed_layout", json_string(
        "quantized.safetensors, per linear NAME: NAME.qweight U8 (rows, packed_cols): codes packed "
        "row by row, floor(8/bits) codes per byte, first code in the lowest bits; NAME.scales F32 "
        "(rows, groups); NAME.zeros U8 (rows, groups): the code of 0.0; optional NAME.fp_columns I32 "
        "(k) and NAME.fp_values F32 (rows, k): input channels kept in full precision. "
        "w = (code - zero) * scale, rounded to the source dtype, then fp_columns <- fp_values."));
    for (size_t i = 0; i < (size_t)m->cfg.n_layers * L_COUNT; i++) {
        const method_metrics *mm = &p->metrics[i];
        if (mm->rows == 0) continue;
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(model_lw(m, mm->layer, mm->role)->name));
        json_object_set_new(x, "layer", json_integer(mm->layer));
        json_object_set_new(x, "role", json_string(arch_layer_role_name(mm->role)));
        json_object_set_new(x, "shape", json_pack("[ii]", mm->rows, mm->cols));
        json_object_set_new(x, "fp_columns", json_integer(mm->kept));
        json_object_set_new(x, "weight_mse", json_real(mm->weight_mse));
        if (mm->output_mse >= 0) json_object_set_new(x, "output_mse", json_real(mm->output_mse));
        json_array_append_new(lin, x);
    }
    json_object_set_new(root, "linears", lin);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

int qexport_run_make(qexport_run *r, const qexport_job *j, ah_err *e) {
    memset(r, 0, sizeof *r);
    const model *m = j->m;
    block_f32 *blk = NULL;
    if (!(r->qp = qpass_new(m, j->mc, j->cs && j->cs->n ? j->cs : NULL, e))) goto fail;
    if (!(r->x = qexport_new(m, j->mc, e))) goto fail;
    r->qp->sink = qexport_sink;
    r->qp->block_sink = qexport_block;
    r->qp->sink_ctx = r->x;
    r->qp->awq_preset = j->awq_preset;
    if (!(blk = block_f32_new(m, e))) goto fail;

    ah_progress prog;
    ah_progress_start(&prog, j->label ? j->label : "quantize", m->cfg.n_layers, j->quiet);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        char stage[48];
        if (block_f32_load(blk, m, l, e) || qpass_block(r->qp, l, blk, e)) {
            ah_progress_end(&prog);
            goto fail;
        }
        snprintf(stage, sizeof stage, "block %d/%d", l + 1, m->cfg.n_layers);
        ah_progress_step(&prog, 1, stage);
    }
    ah_progress_end(&prog);
    // The block and the calibration states are done with: the export streams from the spool
    // and the source mapping, so it runs beside neither (it was the peak of a 7B quantize).
    block_f32_free(blk);
    blk = NULL;
    qpass_release_calibration(r->qp);
    r->qp->awq_preset = NULL;   // borrowed from the caller
    if (!(r->manifest = manifest(m, j, j->cs, r->qp))) {
        ah_fail(e, "out of memory (manifest)");
        goto fail;
    }
    return 0;
fail:
    block_f32_free(blk);
    if (r->qp) r->qp->awq_preset = NULL;
    qexport_run_free(r);
    return -1;
}

int qexport_run_write(const qexport_run *r, const qexport_format *f, const model *m,
                      const tok_tokenizer *tok, const char *tokenizer_path, const char *out,
                      double *max_abs_diff, ah_err *e) {
    *max_abs_diff = NAN;
    if (f->write(r->x, m, tok, out, tokenizer_path, r->manifest, r->qp->awq, max_abs_diff, e))
        return -1;
    // The writers fail on a difference themselves; this holds any future writer to it too.
    if (!isnan(*max_abs_diff) && *max_abs_diff != 0)
        return ah_fail(e, "%s: export_check: the %s export read back differs from the evaluated "
                          "weights by up to %g", out, f->name, *max_abs_diff);
    return 0;
}

void qexport_run_free(qexport_run *r) {
    if (!r) return;
    free(r->manifest);
    qexport_free(r->x);
    qpass_free(r->qp);
    memset(r, 0, sizeof *r);
}
