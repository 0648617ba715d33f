#include "arch.h"

#include <string.h>

// Llama and its descendants share one naming scheme (HF LlamaForCausalLM).
#define LLAMA_LAYER_NAMES                                              \
    [L_ATTN_NORM] = "model.layers.%d.input_layernorm.weight",          \
    [L_Q] = "model.layers.%d.self_attn.q_proj.weight",                 \
    [L_K] = "model.layers.%d.self_attn.k_proj.weight",                 \
    [L_V] = "model.layers.%d.self_attn.v_proj.weight",                 \
    [L_O] = "model.layers.%d.self_attn.o_proj.weight",                 \
    [L_MLP_NORM] = "model.layers.%d.post_attention_layernorm.weight",  \
    [L_GATE] = "model.layers.%d.mlp.gate_proj.weight",                 \
    [L_UP] = "model.layers.%d.mlp.up_proj.weight",                     \
    [L_DOWN] = "model.layers.%d.mlp.down_proj.weight"

#define LLAMA_GLOBAL_NAMES                                             \
    [G_EMBED] = "model.embed_tokens.weight",                           \
    [G_FINAL_NORM] = "model.norm.weight",                              \
    [G_LM_HEAD] = "lm_head.weight?"

// Llama family scaling groups: norm -> q,k,v (attention loss), v -> o, norm -> gate,up (MLP
// loss), up -> down.
#define LLAMA_GROUPS                                                                          \
    .groups = {                                                                               \
        {"qkv", FWD_IN_QKV, L_ATTN_NORM, L_ATTN_NORM_B, {L_Q, L_K, L_V}, 3, LOSS_ATTENTION, 0}, \
        {"o", FWD_IN_O, L_V, L_V_B, {L_O}, 1, LOSS_LINEAR, 1},                                 \
        {"gate_up", FWD_IN_GATE_UP, L_MLP_NORM, L_MLP_NORM_B, {L_GATE, L_UP}, 2, LOSS_MLP, 0}, \
        {"down", FWD_IN_DOWN, L_UP, L_UP_B, {L_DOWN}, 1, LOSS_LINEAR, 0},                      \
    },                                                                                        \
    .n_groups = 4

static const arch_desc ARCHS[] = {
    {
        .model_type = "llama",   // Llama-1/2/3, TinyLlama, SmolLM, Vicuna
        .norm = NORM_RMS, .rope = ROPE_HALF, .mlp = MLP_SWIGLU,
        .global_names = { LLAMA_GLOBAL_NAMES },
        .layer_names = { LLAMA_LAYER_NAMES },
        LLAMA_GROUPS,
    },
    {
        .model_type = "mistral",   // Llama layout; sliding window irrelevant below 4096 tokens
        .norm = NORM_RMS, .rope = ROPE_HALF, .mlp = MLP_SWIGLU,
        .global_names = { LLAMA_GLOBAL_NAMES },
        .layer_names = { LLAMA_LAYER_NAMES },
        LLAMA_GROUPS,
    },
    {
        .model_type = "qwen2",   // Llama layout plus q/k/v biases
        .norm = NORM_RMS, .rope = ROPE_HALF, .mlp = MLP_SWIGLU,
        .global_names = { LLAMA_GLOBAL_NAMES },
        .layer_names = {
            LLAMA_LAYER_NAMES,
            [L_Q_B] = "model.layers.%d.self_attn.q_proj.bias",
            [L_K_B] = "model.layers.%d.self_attn.k_proj.bias",
            [L_V_B] = "model.layers.%d.self_attn.v_proj.bias",
        },
        LLAMA_GROUPS,
    },
    {
        .model_type = "opt",   // LayerNorm with bias, learned positions (offset 2), ReLU fc1/fc2
        .norm = NORM_LAYER, .rope = ROPE_NONE, .mlp = MLP_RELU, .pos_offset = 2,
        .global_names = {
            [G_EMBED] = "model.decoder.embed_tokens.weight",
            [G_POS_EMBED] = "model.decoder.embed_positions.weight",
            [G_FINAL_NORM] = "model.decoder.final_layer_norm.weight",
            [G_FINAL_NORM_B] = "model.decoder.final_layer_norm.bias",
            [G_LM_HEAD] = "lm_head.weight?",
        },
        .layer_names = {
            [L_ATTN_NORM] = "model.decoder.layers.%d.self_attn_layer_norm.weight",
            [L_ATTN_NORM_B] = "model.decoder.layers.%d.self_attn_layer_norm.bias",
            [L_Q] = "model.decoder.layers.%d.self_attn.q_proj.weight",
            [L_Q_B] = "model.decoder.layers.%d.self_attn.q_proj.bias",
            [L_K] = "model.decoder.layers.%d.self_attn.k_proj.weight",
            [L_K_B] = "model.decoder.layers.%d.self_attn.k_proj.bias",
            [L_V] = "model.decoder.layers.%d.self_attn.v_proj.weight",
            [L_V_B] = "model.decoder.layers.%d.self_attn.v_proj.bias",
            [L_O] = "model.decoder.layers.%d.self_attn.out_proj.weight",
            [L_O_B] = "model.decoder.layers.%d.self_attn.out_proj.bias",
            [L_MLP_NORM] = "model.decoder.layers.%d.final_layer_norm.weight",
            [L_MLP_NORM_B] = "model.decoder.layers.%d.final_layer_norm.bias",
            [L_UP] = "model.decoder.layers.%d.fc1.weight",
            [L_UP_B] = "model.decoder.layers.%d.fc1.bias",
            [L_DOWN] = "model.decoder.layers.%d.fc2.weight",
            [L_DOWN_B] = "model.decoder.layers.%d.fc2.bias",
        },
        // OPT: llm-awq measures the LayerNorm -> fc1 group on fc1's own output.
        .groups = {
            {"qkv", FWD_IN_QKV, L_ATTN_NORM, L_ATTN_NORM_B, {L_Q, L_K, L_V}, 3, LOSS_ATTENTION, 0},
            {"o", FWD_IN_O, L_V, L_V_B, {L_O}, 1, LOSS_LINEAR, 1},
            {"fc1", FWD_IN_GATE_UP, L_MLP_NORM, L_MLP_NORM_B, {L_UP}, 1, LOSS_LINEAR, 0},
            {"fc2", FWD_IN_DOWN, L_UP, L_UP_B, {L_DOWN}, 1, LOSS_LINEAR, 0},
        },
        .n_groups = 4,
    },
};

// llama2.c checkpoints carry no names; the loader binds roles by file offset. Names here are
// the ones used in messages and exported checkpoints (the HF Llama names).
static const arch_desc LLAMA2C = {
    .model_type = "llama2c",
    .norm = NORM_RMS, .rope = ROPE_INTERLEAVED, .mlp = MLP_SWIGLU,
    .global_names = { LLAMA_GLOBAL_NAMES },
    .layer_names = { LLAMA_LAYER_NAMES },
    LLAMA_GROUPS,
};

const arch_desc *arch_find(const char *model_type) {
    if (!model_type) return NULL;
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (strcmp(ARCHS[i].model_type, model_type) == 0) return &ARCHS[i];
    return NULL;
}

const arch_desc *arch_llama2c(void) { return &LLAMA2C; }

const char *arch_supported_list(void) { return "llama, mistral, qwen2, opt (and llama2.c .bin)"; }

// The layer-role table: every per-layer tensor role, its name in messages and records, whether
// it is a linear weight (what quantization touches) and, for linears, the captured input that
// feeds it (the AWQ scaling group, the calibration statistics and the Hessian of that input).
typedef struct {
    const char *name;
    int linear;          // 1 for the (out, in) weight matrices
    fwd_input input;     // linears: the forward pass's capture point that feeds them
} arch_role_info;

static const arch_role_info ROLES[L_COUNT] = {
    [L_ATTN_NORM] = {"attn_norm", 0, 0},   [L_ATTN_NORM_B] = {"attn_norm.bias", 0, 0},
    [L_Q] = {"q_proj", 1, FWD_IN_QKV},     [L_Q_B] = {"q_proj.bias", 0, 0},
    [L_K] = {"k_proj", 1, FWD_IN_QKV},     [L_K_B] = {"k_proj.bias", 0, 0},
    [L_V] = {"v_proj", 1, FWD_IN_QKV},     [L_V_B] = {"v_proj.bias", 0, 0},
    [L_O] = {"o_proj", 1, FWD_IN_O},       [L_O_B] = {"o_proj.bias", 0, 0},
    [L_MLP_NORM] = {"mlp_norm", 0, 0},     [L_MLP_NORM_B] = {"mlp_norm.bias", 0, 0},
    [L_GATE] = {"gate_proj", 1, FWD_IN_GATE_UP}, [L_GATE_B] = {"gate_proj.bias", 0, 0},
    [L_UP] = {"up_proj", 1, FWD_IN_GATE_UP},     [L_UP_B] = {"up_proj.bias", 0, 0},
    [L_DOWN] = {"down_proj", 1, FWD_IN_DOWN},    [L_DOWN_B] = {"down_proj.bias", 0, 0},
};

// The capture points' names (records' `input` attribute, messages), and how a message names
// the linears each feeds.
static const char *const INPUT_NAMES[FWD_IN_COUNT] = {"qkv", "o", "gate_up", "down"};
static const char *const INPUT_LINEARS[FWD_IN_COUNT] = {"q/k/v", "o", "gate/up", "down"};

const char *arch_layer_role_name(arch_layer_role r) {
    return (r >= 0 && r < L_COUNT) ? ROLES[r].name : "?";
}

int arch_role_is_linear(arch_layer_role r) { return r >= 0 && r < L_COUNT && ROLES[r].linear; }

int arch_role_input(arch_layer_role r) { return arch_role_is_linear(r) ? (int)ROLES[r].input : -1; }

const char *arch_input_name(fwd_input in) {
    return in >= 0 && in < FWD_IN_COUNT ? INPUT_NAMES[in] : "?";
}

const char *arch_input_linears(fwd_input in) {
    return in >= 0 && in < FWD_IN_COUNT ? INPUT_LINEARS[in] : "?";
}
