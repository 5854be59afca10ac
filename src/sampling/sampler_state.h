/* sampler_state.h — saving and restoring a sampler's whole state (the RNG
 * and the penalty history), so a chat can be suspended and resumed and keep
 * drawing exactly the tokens it would have drawn.
 *
 * The blob is little-endian and versioned:
 *   "SLSS" u32 version=1 | u64 rng[4] | u32 n_vocab | u32 hist_cap |
 *   u32 hist_len | i32 tokens[hist_len] (oldest first)
 * It is restored only into a sampler with the same n_vocab and
 * penalty_last_n (the parameters themselves are the caller's to keep). */
#ifndef SL_SAMPLER_STATE_H
#define SL_SAMPLER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"

/* Bytes sl_sampler_state_save writes for s right now. */
size_t sl_sampler_state_size(const sl_sampler *s);

/* Writes the state into buf (cap bytes); *written gets the byte count.
 * Errors: SL_ERR_INVALID_ARG when cap is smaller than sl_sampler_state_size. */
sl_status sl_sampler_state_save(const sl_sampler *s, void *buf, size_t cap, size_t *written,
                                sl_error *err);

/* Replaces s's RNG and history with the saved ones. On error s is unchanged.
 * Errors: SL_ERR_FORMAT (bad magic/version/length, a token out of range),
 * SL_ERR_INVALID_ARG (saved by a sampler with another n_vocab or
 * penalty_last_n). */
sl_status sl_sampler_state_load(sl_sampler *s, const void *buf, size_t len, sl_error *err);

#endif
