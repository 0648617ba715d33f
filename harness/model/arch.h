// arch.h — architectures as data: one table entry per model family.
//
// A family is described by what distinguishes it in the forward pass (norm kind, rotary style,
// MLP kind, position embeddings) and by the tensor names of its checkpoints. Adding a family
// (Mistral, Qwen2, SmolLM, OPT, ...) is a table entry in arch.c plus a fixture, not new code.
//
// Weight roles are the same for every family: a family names the tensors it has and leaves
// the others NULL. OPT's fc1/fc2 are the UP/DOWN roles of an MLP without a gate.
#ifndef AH_ARCH_H
#define AH_ARCH_H

typedef enum { NORM_RMS, NORM_LAYER } arch_norm;
typedef enum { ROPE_NONE, ROPE_HALF, ROPE_INTERLEAVED } arch_rope;
// MLP_SWIGLU: down(silu(gate(x)) * up(x)); MLP_RELU / MLP_GELU: down(act(up(x))).
typedef enum { MLP_SWIGLU, MLP_RELU, MLP_GELU } arch_mlp;

// Model-wide tensors.
typedef enum {
    G_EMBED,          // (V, C) token embedding
    G_POS_EMBED,      // (max_seq + pos_offset, C) learned positions (OPT)
    G_FINAL_NORM,     // (C)
    G_FINAL_NORM_B,   // (C)
    G_LM_HEAD,        // (V, C); absent when tied to G_EMBED
    G_COUNT
} arch_global;

// Per-layer tensors. Shapes: C = dim, Q = n_heads*head_dim, KV = n_kv_heads*head_dim,
// F = hidden_dim (MLP width). Linear weights are (out, in) as in PyTorch.
typedef enum {
    L_ATTN_NORM, L_ATTN_NORM_B,     // (C)
    L_Q, L_Q_B,                     // (Q, C), (Q)
    L_K, L_K_B,                     // (KV, C), (KV)
    L_V, L_V_B,                     // (KV, C), (KV)
    L_O, L_O_B,                     // (C, Q), (C)
    L_MLP_NORM, L_MLP_NORM_B,       // (C)
    L_GATE, L_GATE_B,               // (F, C), (F)
    L_UP, L_UP_B,                   // (F, C), (F)
    L_DOWN, L_DOWN_B,               // (C, F), (C)
    L_COUNT
} arch_layer_role;

// The inputs of a block's linears: the capture points of the forward pass (forward.h).
typedef enum {
    FWD_IN_QKV,       // normed block input, feeds q, k, v      (T, C)
    FWD_IN_O,         // attention output, feeds o_proj         (T, H*D)
    FWD_IN_GATE_UP,   // normed residual, feeds gate/up (fc1)   (T, C)
    FWD_IN_DOWN,      // MLP hidden, feeds down (fc2)           (T, F)
    FWD_IN_COUNT
} fwd_input;

// What an AWQ scaling group's loss is measured on.
typedef enum {
    LOSS_ATTENTION,   // the attention module's output (after o_proj)
    LOSS_MLP,         // the MLP's output (after down)
    LOSS_LINEAR,      // the output of the group's first linear
} arch_loss;

// An AWQ scaling group (METHODS.md, docs/AWQ.md): the linears fed by one input, scaled by s
// per input channel, and the previous op that absorbs 1/s so the block's function is kept.
typedef struct {
    const char *name;            // "qkv", "o", "gate_up", "down" (records, messages)
    fwd_input input;             // what the linears read
    arch_layer_role prev;        // norm weight (L_*_NORM) or previous linear (rows divided)
    arch_layer_role prev_bias;   // its bias (divided too when present)
    arch_layer_role linears[3];  // columns multiplied by s
    int n_linears;
    arch_loss loss;
    int needs_square_attn;       // only when v and o shapes match (no GQA): the v -> o group
} arch_scale_group;

#define ARCH_MAX_GROUPS 4

typedef struct {
    const char *model_type;           // config.json "model_type" this entry serves
    arch_norm norm;
    arch_rope rope;
    arch_mlp mlp;
    int pos_offset;                   // learned position index = position + pos_offset (OPT: 2)
    // HF tensor names; layer names are printf patterns taking the layer index. NULL = the
    // family has no such tensor. A trailing '?' marks a tensor that may be absent (then it is
    // treated as zero / tied), e.g. lm_head when embeddings are tied.
    const char *global_names[G_COUNT];
    const char *layer_names[L_COUNT];
    arch_scale_group groups[ARCH_MAX_GROUPS];   // AWQ scaling groups, in block order
    int n_groups;
} arch_desc;

// The entry for a config.json model_type, or NULL when unknown.
const arch_desc *arch_find(const char *model_type);
// The llama2.c .bin family (Llama with interleaved rotary; weights located by offset).
const arch_desc *arch_llama2c(void);
// Comma-separated list of supported model_type values, for error messages.
const char *arch_supported_list(void);
// Role names for messages and records ("q_proj", "mlp.up", ...).
const char *arch_layer_role_name(arch_layer_role r);
// 1 for the roles that are linear weight matrices (the ones quantization touches).
int arch_role_is_linear(arch_layer_role r);
// The input (fwd_input) feeding a linear role; -1 for the other roles.
int arch_role_input(arch_layer_role r);
// A capture point's name ("qkv", "o", "gate_up", "down": records) and its linears as a message
// names them ("q/k/v", "o", "gate/up", "down").
const char *arch_input_name(fwd_input in);
const char *arch_input_linears(fwd_input in);

#endif
