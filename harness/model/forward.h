// forward.h — fp32 forward pass of one decoder block over one window, and the LM head.
//
// Dims legend (see model.h): T tokens, C width, H heads, G kv heads, D head_dim, F MLP width,
// V vocabulary. All tensors row-major fp32. Matrix products go through CBLAS (the attention's,
// where they give its bits, through attend_block.h's kernels); attention heads run in parallel
// (OpenMP), each with its own score buffer of one row block.
#ifndef AH_FORWARD_H
#define AH_FORWARD_H

#include "model/model.h"

// The inputs of every linear of a block (fwd_input, declared in arch.h) are offered to a
// capture hook as the block runs (calibration statistics, AWQ).
// x is (N, In) for N = B*T rows of the current batch.
typedef void (*fwd_capture_fn)(void *ctx, fwd_input which, const float *x, int N, int In);

// Windows are processed B at a time: the linears see (B*T, C) rows, which keeps the GEMMs
// large enough to use the cores on small models; attention runs per (window, head) pair.
// Below, N = B*T rows.
typedef struct {
    int T;             // window length the buffers are sized for
    int B;             // windows per batch the buffers are sized for
    float *xn;         // (N, C)   normed input
    float *q;          // (N, H*D)
    float *k, *v;      // (N, G*D)
    float *att;        // (N, H*D) attention output (input of o_proj)
    float *scores;     // (nthreads, min(T, 128), T) per-thread attention scratch (one row block)
    float *kpack;      // per thread: (T rounded up to 16, D) keys in panels of 16, then (T, D)
                       // values (attend_block.h); NULL where its kernels cannot run (D % 16, T < 128)
    int nthreads;
    float *h1, *h2;    // (N, F)   MLP gate (gated MLPs only) / up activations
    float *rope_cos;   // (T, D/2)
    float *rope_sin;   // (T, D/2)
    fwd_capture_fn capture;   // optional hook, NULL = none
    void *capture_ctx;
} fwd_state;

// Buffers for up to B windows of T tokens.
fwd_state *fwd_state_new(const model_config *c, int T, int B, ah_err *e);
void fwd_state_free(fwd_state *s);   // NULL-safe
// How many windows of T to batch: about FWD_BATCH_TOKENS rows per GEMM, at least 1.
int fwd_batch_windows(int T, size_t windows);
#define FWD_BATCH_TOKENS 4096

// x (B*T, C) <- block(x), in place, for B (<= s->B) independent windows of T tokens.
// b holds this layer's fp32 weights.
void fwd_block(float *x, fwd_state *s, const block_f32 *b, const model_config *c, int T, int B);

// fwd_block for a last block whose rows before `first` of each window no one reads (llama.cpp's
// perplexity scores the second half of every window). Rows [r0, T) of each window, r0 =
// `first` rounded down to the attention's row block (128), come out as fwd_block gives them,
// bit for bit: every row's keys and values are still computed, but the queries, attention,
// o_proj and MLP only for those rows (about half of a 2048-token window's block). Rows before
// r0 keep their input. The GEMMs sum over the same K in the same order whatever their row
// count where OpenBLAS's kernel accumulates each output along K alone (SkylakeX;
// ah_blas_rows_independent asks), and the attention keeps its row blocks. Computes every row
// (fwd_block is first = 0) where r0 is 0 or fewer than 128 rows would remain, where the kernel
// sums a row by its place (Haswell, Zen), for post-norm families, with a capture hook set, or
// when b holds packed linears. One code path for both: the attention and MLP steps run over "segments",
// all N rows at once from row 0, else each window's rows from r0 on.
void fwd_block_rows(float *x, fwd_state *s, const block_f32 *b, const model_config *c, int T,
                    int B, int first);

// The block's parts, for AWQ's per-module losses. N = T*B rows; accumulate: out += instead
// of out =. The capture hook (if set) sees the inputs of the linears as in fwd_block.
// out (N, C) (+)= o_proj(causal attention(q, k, v of in)); in (N, C) the attention input.
void fwd_attention(float *out, int accumulate, const float *in, fwd_state *s,
                   const block_f32 *b, const model_config *c, int T, int B);
// out (N, C) (+)= down(act(gate(in)) * up(in))  or  fc2(act(fc1(in))).
void fwd_mlp(float *out, int accumulate, const float *in, fwd_state *s, const block_f32 *b,
             const model_config *c, int T, int B);
// y (N, O) (+)= x (N, In) @ W^T (O, In) + b (O); b may be NULL.
void fwd_linear(float *y, const float *x, const float *W, const float *b, int N, int In, int O,
                int accumulate);

// The modules after their input projections, for AWQ's search, which computes the
// projections itself from candidate weights in row chunks (awq.c). fwd_attention =
// q, k, v projections (with biases) into s->q, s->k, s->v, then fwd_attention_tail (rope,
// causal attention, o_proj). fwd_mlp = up into s->h2 and (gated) gate into s->h1, both without
// biases (the activation pass adds them), then fwd_mlp_tail (activation, down). The tails do
// not offer the projections' input to the capture hook; they do offer o_proj's and down's.
void fwd_attention_tail(float *out, int accumulate, fwd_state *s, const block_f32 *b,
                        const model_config *c, int T, int B);
void fwd_mlp_tail(float *out, int accumulate, fwd_state *s, const block_f32 *b,
                  const model_config *c, int T, int B);
// y (N, ldy)[:, 0:O] = x (N, In) @ W^T (O, In), no bias: fwd_linear's product into a column
// slice of a wider output (ldy >= O).
void fwd_linear_cols(float *y, int ldy, const float *x, const float *W, int N, int In, int O);
// y (N, O) += b (O) per row: fwd_linear's bias pass.
void fwd_add_bias(float *y, const float *b, int N, int O);

// y (N, O) (+)= x (N, In) @ W_r^T (O, In) + bias (O) for linear r of block b: from its packed
// codes when b->pk[r] is set (packed/packed.h), else the fp32 GEMM of b->w[r]. bias may be NULL.
void fwd_block_linear(float *y, const float *x, const block_f32 *b, arch_layer_role r,
                      const float *bias, int N, int In, int O, int accumulate);
// y[j] (N, O[j]) = x (N, In) @ W_{r[j]}^T + bias[j] for n linears of block b that read the
// same x (q, k, v; up, gate): fwd_block_linear of each, but when all are packed the GEMV path
// prepares x once for all and runs them in one parallel region (packed_linear_apply_shared),
// with the same result. bias[j] may be NULL.
void fwd_block_linears(int n, float *const *y, const arch_layer_role *r, const float *const *bias,
                       const int *O, const float *x, const block_f32 *b, int N, int In);
// out (T, C) = the family's norm (RMSNorm, or LayerNorm with bias b) of x (T, C) with weight w.
void fwd_norm(float *out, const float *x, const float *w, const float *b, const model_config *c,
              int T);
// Rotary embedding of x (N, n_heads * D) in place; row r is at position pos0 + r % T (s's
// tables cover positions up to s->T - 1).
void fwd_rope(float *x, const fwd_state *s, int N, int T, int pos0, int n_heads, int D,
              arch_rope kind);

// Embeds tokens (T) into x (T, C): token embedding (+ learned positions for OPT).
void fwd_embed(float *x, const model *m, const int32_t *tokens, int T);
// After the last fwd_embed of a pass: the rows read were copied, so the embedding tables'
// mapped pages need not stay resident (model_release; they are read again if needed, e.g. as
// a tied LM head).
void fwd_embed_release(const model *m);

// The final norm of x (T, C) in place (s->xn is scratch), before the LM head; eval/ppl.c
// scores the head in vocabulary chunks.
void fwd_final_norm(float *x, fwd_state *s, const model_config *c, const float *norm_w,
                    const float *norm_b, int T);

// sum[r] = the serial float sum base[r * ld + 0] + ... + base[r * ld + n - 1] for the 8 rows
// r = 0..7, added in that order (bit for bit what a scalar loop gives), vectorised across the
// rows: the softmax denominators of the attention, 8 rows at a time.
void fwd_sum8_rows(float sum[8], const float *base, int ld, int n);

// One vocabulary chunk of a running log-sum-exp: *max = max of l (n), *sum = float64 sum of
// exp(l - *max) (fp32 exponentials). NaN in l gives a NaN sum.
void fwd_lse_chunk(const float *l, size_t n, float *max, double *sum);

// Full logits for the first `rows` positions of a window (tests and debugging):
// out (rows, V). x is clobbered.
void fwd_logits(float *out, float *x, fwd_state *s, const model_config *c, const float *head,
                const float *norm_w, const float *norm_b, int T, int rows);

#endif
