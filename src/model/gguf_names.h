/* gguf_names.h — the GGUF keys and tensor names we read and write, in one
 * place (llama.cpp's conventions, so files interoperate). Keys with "%s"
 * take general.architecture; tensor names with "%d" take the layer index. */
#ifndef SL_MODEL_GGUF_NAMES_H
#define SL_MODEL_GGUF_NAMES_H

#define KEY_ARCH "general.architecture"
#define KEY_NAME "general.name"
#define KEY_ALIGNMENT "general.alignment"
#define KEY_FILE_TYPE "general.file_type"
#define KEY_QUANT_VERSION "general.quantization_version"

#define KEY_CTX_LEN "%s.context_length"
#define KEY_EMBD "%s.embedding_length"
#define KEY_BLOCKS "%s.block_count"
#define KEY_FF "%s.feed_forward_length"
#define KEY_HEADS "%s.attention.head_count"
#define KEY_HEADS_KV "%s.attention.head_count_kv"
#define KEY_RMS_EPS "%s.attention.layer_norm_rms_epsilon"
#define KEY_KEY_LENGTH "%s.attention.key_length"
#define KEY_VALUE_LENGTH "%s.attention.value_length"
#define KEY_ROPE_DIM "%s.rope.dimension_count"
#define KEY_ROPE_BASE "%s.rope.freq_base"
#define KEY_ROPE_SCALING_TYPE "%s.rope.scaling.type"
#define KEY_ROPE_SCALING_FACTOR "%s.rope.scaling.factor"
#define KEY_ROPE_SCALE_LINEAR "%s.rope.scale_linear" /* older files */
#define KEY_VOCAB_SIZE "%s.vocab_size"
/* streamllm's own keys (documented in docs/KV_POLICY.md and the trainer). */
#define KEY_SINK_TOKEN "streamllm.sink_token_id"   /* i32: prepend this token to every stream */
#define KEY_ZERO_SINK "streamllm.zero_sink"        /* bool: softmax with +1 in the denominator */

#define KEY_TOK_MODEL "tokenizer.ggml.model"
#define KEY_TOK_PRE "tokenizer.ggml.pre"
#define KEY_TOK_TOKENS "tokenizer.ggml.tokens"
#define KEY_TOK_SCORES "tokenizer.ggml.scores"
#define KEY_TOK_TYPES "tokenizer.ggml.token_type"
#define KEY_TOK_MERGES "tokenizer.ggml.merges"
#define KEY_TOK_BOS "tokenizer.ggml.bos_token_id"
#define KEY_TOK_EOS "tokenizer.ggml.eos_token_id"
#define KEY_TOK_UNK "tokenizer.ggml.unknown_token_id"
#define KEY_TOK_PAD "tokenizer.ggml.padding_token_id"
#define KEY_TOK_EOT "tokenizer.ggml.eot_token_id"
#define KEY_TOK_ADD_BOS "tokenizer.ggml.add_bos_token"
#define KEY_TOK_ADD_EOS "tokenizer.ggml.add_eos_token"
#define KEY_TOK_ADD_SPACE "tokenizer.ggml.add_space_prefix"
#define KEY_CHAT_TEMPLATE "tokenizer.chat_template"

#define TN_TOKEN_EMBD "token_embd.weight"
#define TN_OUTPUT_NORM "output_norm.weight"
#define TN_OUTPUT "output.weight"
#define TN_ROPE_FREQS "rope_freqs.weight"
#define TN_ATTN_NORM "blk.%d.attn_norm.weight"
#define TN_ATTN_Q "blk.%d.attn_q.weight"
#define TN_ATTN_K "blk.%d.attn_k.weight"
#define TN_ATTN_V "blk.%d.attn_v.weight"
#define TN_ATTN_Q_BIAS "blk.%d.attn_q.bias"
#define TN_ATTN_K_BIAS "blk.%d.attn_k.bias"
#define TN_ATTN_V_BIAS "blk.%d.attn_v.bias"
#define TN_ATTN_OUT "blk.%d.attn_output.weight"
#define TN_FFN_NORM "blk.%d.ffn_norm.weight"
#define TN_FFN_GATE "blk.%d.ffn_gate.weight"
#define TN_FFN_UP "blk.%d.ffn_up.weight"
#define TN_FFN_DOWN "blk.%d.ffn_down.weight"

#endif
