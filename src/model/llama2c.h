/* llama2c.h — convert a karpathy/llama2.c checkpoint + tokenizer to GGUF.
 *
 * Checkpoints: legacy v0 (7 x int32 header, negative vocab_size = separate
 * classifier, fp32 weights in run.c order including the two unused freq_cis
 * tables) and v1 ("ak42" magic, version 1, 256-byte header, fp32). The int8
 * v2 format is refused with a message.
 *
 * Tokenizer (tok.bin): int32 max_token_length, then per token
 * {f32 score, int32 len, len bytes}. llama2.c's exporter replaced U+2581 with
 * ' ' and wrote BOS/EOS as "\n<s>\n"/"\n</s>\n"; we undo both so the GGUF
 * holds a standard SentencePiece vocabulary (tokenizer.ggml.model = llama).
 *
 * The output is general.architecture = llama with llama.cpp's key and tensor
 * names (model/gguf_names.h). Weights are not permuted: llama2.c rotates
 * adjacent pairs (2i, 2i+1), which is ggml's normal RoPE for llama. */
#ifndef SL_MODEL_LLAMA2C_H
#define SL_MODEL_LLAMA2C_H

#include "streamllm.h"

/* Hyper-parameters of a checkpoint, as its header states them. */
typedef struct {
    int version;      /* 0 (legacy) or 1 */
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier; /* 1: output = token embedding (tied) */
} sl_llama2c_config;

/* Reads and validates a checkpoint header and checks that the file size is
 * exactly what the header implies. Errors: SL_ERR_IO (cannot open),
 * SL_ERR_FORMAT (bad header, size mismatch; the message names the file and
 * both sizes), SL_ERR_UNSUPPORTED (v2 int8 or a later version). */
sl_status sl_llama2c_read_config(const char *model_bin, sl_llama2c_config *out, sl_error *err);

/* Writes out_gguf from model_bin + tok_bin. The tokenizer must have exactly
 * the checkpoint's vocab_size entries. Nothing is written on error (a partial
 * file is removed). Errors: SL_ERR_IO, SL_ERR_FORMAT, SL_ERR_UNSUPPORTED,
 * SL_ERR_NOMEM. */
sl_status sl_llama2c_convert(const char *model_bin, const char *tok_bin, const char *out_gguf,
                             sl_error *err);

#endif
