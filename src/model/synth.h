/* synth.h — random-weight GGUF models in real shapes, for tests and benchmarks.
 *
 * The weights are random but scaled so a forward pass stays O(1): every
 * matrix is ~N(0, 1/fan_in) (std 1/sqrt(fan_in)), norms are near 1, biases
 * small, so logits are neither flat nor one-hot. Each tensor's values depend
 * only on (seed, tensor name, element index), never on the weight type or the
 * order tensors are written: an f32 file and a q8_0 file with the same seed
 * hold the same model up to quantization.
 *
 * The tokenizer is copied from a vocab GGUF (vocab_path), or else a small
 * synthetic SentencePiece vocab is built: <unk>, <s>, </s>, the 256 <0xXX>
 * byte tokens, then single characters and frequent English words (with every
 * prefix, so SPM merges can reach them), padded with unused tokens up to
 * n_vocab. Any text can be tokenized with it (byte fallback). */
#ifndef SL_MODEL_SYNTH_H
#define SL_MODEL_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "streamllm.h"

typedef struct {
    const char *arch;       /* "llama" or "qwen2" */
    const char *name;       /* general.name; NULL: the preset name or "synth" */
    int n_vocab;            /* ignored when vocab_path is set (the vocab decides) */
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx; /* head_dim = n_embd / n_head */
    int n_rot;              /* rope.dimension_count, even, <= head_dim; 0 = head_dim */
    float rope_freq_base;   /* 0 = 10000 */
    float rope_scale_linear;/* > 1: rope.scaling.type = linear with this factor; else none */
    bool rope_freqs;        /* write rope_freqs.weight: Llama-3 style per-frequency divisors */
    bool tied_output;       /* true: no output.weight, the embedding is reused */
    bool qkv_bias;          /* attn_q/k/v.bias for llama; qwen2 always has them (llama.cpp requires) */
    float rms_eps;          /* 0 = 1e-5 */
    uint32_t wtype;         /* sl_type of 2-D matrices (needs a quantizer); norms stay f32 */
    int output_type;        /* sl_type of output.weight (token_embd when tied); < 0: wtype.
                             * The presets set -1. */
    bool mix_m;             /* llama.cpp's _M mixes (Q4_K_M, Q5_K_M): q6_K for output and for
                             * attn_v / ffn_down in its use_more_bits layers */
    uint64_t seed;
    const char *vocab_path; /* NULL: synthetic vocab; else copy its tokenizer.* keys */
} sl_synth_params;

/* The "tiny" preset (64 embd, 2 layers, 4 heads, 2 kv heads, ff 96, vocab
 * 300, ctx 128, llama, f32, tied, seed 1). */
void sl_synth_params_default(sl_synth_params *p);

/* Fills p with a named real shape: "tinyllama-1.1b", "smol-135m", "134m",
 * "stories260k", "tiny" (case-insensitive). Weight type f32, seed 1, no
 * vocab file. Returns SL_ERR_NOT_FOUND (message lists the names). */
sl_status sl_synth_preset(sl_synth_params *p, const char *name, sl_error *err);

/* NULL-terminated list of preset names, for help texts. */
const char *const *sl_synth_preset_names(void);

/* Checks p (shapes divisible, weight type quantizable with rows that fit its
 * blocks, ...) and writes a GGUF v3 to path. Errors: SL_ERR_INVALID_ARG (the
 * message names the field), SL_ERR_IO, SL_ERR_FORMAT (bad vocab file),
 * SL_ERR_NOMEM. */
sl_status sl_synth_write(const sl_synth_params *p, const char *path, sl_error *err);

#endif
