#include "model/rope.h"

#include <math.h>
#include <stdlib.h>

int sl_rope_init(sl_rope *r, const sl_hparams *hp, const float *rope_freqs) {
    r->n_rot = hp->n_rot;
    r->style = hp->rope_style;
    r->freq_scale = hp->rope_freq_scale;
    int half = r->n_rot / 2;
    r->theta = malloc((size_t)(half > 0 ? half : 1) * sizeof *r->theta);
    if (!r->theta) return -1;
    for (int i = 0; i < half; i++) {
        double th = pow(hp->rope_base, -2.0 * i / (double)r->n_rot);
        if (rope_freqs) th /= (double)rope_freqs[i];
        r->theta[i] = th;
    }
    return 0;
}

void sl_rope_free(sl_rope *r) {
    if (!r) return;
    free(r->theta);
    r->theta = NULL;
}

void sl_rope_sincos(const sl_rope *r, uint64_t pos, float *cs) {
    double p = (double)pos * r->freq_scale;
    for (int i = 0; i < r->n_rot / 2; i++) {
        double a = p * r->theta[i];
        cs[2 * i] = (float)cos(a);
        cs[2 * i + 1] = (float)sin(a);
    }
}

void sl_rope_apply(const sl_rope *r, float *x, int n_heads, int head_dim, const float *cs) {
    int half = r->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            /* NORM pairs (2i, 2i+1); NEOX pairs (i, i + n_rot/2). */
            int a = r->style == SL_ROPE_NEOX ? i : 2 * i;
            int b = r->style == SL_ROPE_NEOX ? i + half : 2 * i + 1;
            float c = cs[2 * i], s = cs[2 * i + 1];
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}
