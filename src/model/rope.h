/* rope.h — rotary position embedding with angles in double precision.
 * Absolute positions reach many millions in a stream; pos * theta in float
 * would lose the angle's low bits, so the angle and its sin/cos are computed
 * in double and only the rotated values are float. */
#ifndef SL_MODEL_ROPE_H
#define SL_MODEL_ROPE_H

#include <stdint.h>

#include "model/model.h"

typedef struct {
    int n_rot;            /* rotated dims (even), <= head_dim */
    sl_rope_style style;
    double freq_scale;    /* linear scaling */
    double *theta;        /* (n_rot/2): base^(-2i/n_rot) / rope_freqs[i]; owned */
} sl_rope;

int sl_rope_init(sl_rope *r, const sl_hparams *hp, const float *rope_freqs);
void sl_rope_free(sl_rope *r);

/* cs (n_rot) = cos/sin pairs for position pos: cs[2i] = cos, cs[2i+1] = sin. */
void sl_rope_sincos(const sl_rope *r, uint64_t pos, float *cs);

/* Rotates n_heads heads of head_dim floats in place with the angles in cs. */
void sl_rope_apply(const sl_rope *r, float *x, int n_heads, int head_dim, const float *cs);

#endif
